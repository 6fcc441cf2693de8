using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Starts VMs. A start is a transaction: a failure undoes everything the attempt created.</summary>
[Cmdlet(VerbsLifecycle.Start, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmInfo))]
[OutputType(typeof(Job))]
public sealed class StartMyVmCommand : VmBatchCmdlet
{
    /// <summary>Also waits for the guest to report ready (guest channel, else console line).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>How long -Wait waits for the guest.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override string ActionVerb => "Start";

    protected override object? Act(string name, OperationContext context) =>
        Manager.Start(name, new StartOptions(Wait, TimeSpan.FromSeconds(TimeoutSeconds)), context);
}
