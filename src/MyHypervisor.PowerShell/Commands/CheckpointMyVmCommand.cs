using System.Management.Automation;
using MyHypervisor.Core.Checkpoints;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Takes a checkpoint of VMs: of a running or paused VM its disk, memory and device state; of a
/// stopped one its disk. Writes each checkpoint taken, as New-MyVm writes the VM it makes. A
/// transaction: a failure or a kill leaves the VM and its checkpoints as they were.
/// </summary>
[Cmdlet(VerbsData.Checkpoint, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(CheckpointInfo))]
public sealed class CheckpointMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>The checkpoint's name; without it, the time (cp-yyyyMMdd-HHmmss, UTC).</summary>
    [Parameter(Position = 1)]
    [AllowEmptyString]
    public string? CheckpointName { get; set; }

    protected override void ProcessLocalRecord()
    {
        foreach (var name in ResolveNames(Name))
        {
            if (!ShouldProcess($"VM '{name}'", CheckpointName is null ? "Checkpoint" : $"Checkpoint as '{CheckpointName}'")) continue;
            TryForVm(name, () => WriteObject(Manager.Checkpoint(name, CheckpointName,
                CreateContext(new ProgressReporter(this, "Checkpoint-MyVm", 1).Report))));
        }
    }
}
