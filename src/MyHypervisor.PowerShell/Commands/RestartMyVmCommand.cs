using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Restarts running VMs: Stop-MyVm's ladder (ACPI power button first) then a start, on the same
/// disk; -Force is a hard reset through the hypervisor instead (QMP system_reset).
/// </summary>
[Cmdlet(VerbsLifecycle.Restart, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VmInfo))]
[OutputType(typeof(Job))]
public sealed class RestartMyVmCommand : VmBatchCmdlet
{
    /// <summary>A hard reset in the same hypervisor process: the guest gets no chance to shut down.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long the guest gets to power off before the next rung of the stop ladder.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int StopTimeoutSeconds { get; set; } = 30;

    /// <summary>Also waits for the guest to report ready again.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>How long -Wait waits for the guest.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override string ActionVerb => "Restart";

    protected override object? Act(string name, OperationContext context) =>
        ForLiveVm(name, context, () => Manager.Restart(name, new RestartOptions(Force,
            new StopOptions(false, TimeSpan.FromSeconds(StopTimeoutSeconds)),
            new StartOptions(Wait, TimeSpan.FromSeconds(TimeoutSeconds))), context));
}
