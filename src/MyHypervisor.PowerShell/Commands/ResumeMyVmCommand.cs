using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Lets paused VMs run again where they stopped (QMP cont).</summary>
[Cmdlet(VerbsLifecycle.Resume, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmInfo))]
[OutputType(typeof(Job))]
public sealed class ResumeMyVmCommand : VmBatchCmdlet
{
    protected override string ActionVerb => "Resume";

    protected override object? Act(string name, OperationContext context) => ForLiveVm(name, context, () => Manager.Resume(name, context));
}
