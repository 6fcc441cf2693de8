using System.Management.Automation;
using MyHypervisor.Core.Checkpoints;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Takes a checkpoint of VMs: of a running or paused VM its disk, memory and device state; of a
/// stopped one its disk. A transaction: a failure or a kill leaves the VM and its checkpoints as they were.
/// </summary>
[Cmdlet(VerbsData.Checkpoint, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(CheckpointInfo))]
[OutputType(typeof(Job))]
public sealed class CheckpointMyVmCommand : VmBatchCmdlet
{
    /// <summary>The checkpoint's name; without it, the time (cp-yyyyMMdd-HHmmss, UTC).</summary>
    [Parameter(Position = 1)]
    [AllowEmptyString]
    public string? CheckpointName { get; set; }

    protected override string ActionVerb => "Checkpoint";

    protected override object? Act(string name, OperationContext context) => Manager.Checkpoint(name, CheckpointName, context);
}
