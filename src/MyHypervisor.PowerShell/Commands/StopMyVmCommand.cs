using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Stops VMs by a ladder: ACPI power button (waiting up to -TimeoutSeconds), QMP quit, SIGTERM,
/// SIGKILL. -Force skips asking the guest. A VM that is not running is left as it is.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VmInfo))]
[OutputType(typeof(Job))]
public sealed class StopMyVmCommand : VmBatchCmdlet
{
    /// <summary>Skips the guest's power-off: the hypervisor is told to quit at once.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long the guest gets to power off before the next rung.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int TimeoutSeconds { get; set; } = 30;

    protected override string ActionVerb => "Stop";

    protected override object? Act(string name, OperationContext context)
    {
        var (vm, outcome) = Manager.Stop(name, new StopOptions(Force, TimeSpan.FromSeconds(TimeoutSeconds)), context);
        if (!outcome.WasRunning) context.Say($"VM '{name}' is not running ({vm.Status}); nothing to stop");
        foreach (var leftover in outcome.Leftovers)
            context.Warning($"VM '{name}' stopped, but {leftover}. Run Repair-MyVm -Name {name}.");
        return vm;
    }
}
