using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Pauses running VMs: the guest's CPUs stop, its memory and devices stay (QMP stop). Resume-MyVm continues.</summary>
[Cmdlet(VerbsLifecycle.Suspend, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmInfo))]
[OutputType(typeof(Job))]
public sealed class SuspendMyVmCommand : VmBatchCmdlet
{
    protected override string ActionVerb => "Suspend";

    protected override object? Act(string name, OperationContext context) => ForLiveVm(name, context, () => Manager.Suspend(name, context));
}
