using System.Management.Automation;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Deletes checkpoints of VMs (running or stopped); the VM and its other checkpoints stay as they are.</summary>
[Cmdlet(VerbsCommon.Remove, "MyVmCheckpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveMyVmCheckpointCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("VmName")]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    public string[] CheckpointName { get; set; } = Array.Empty<string>();

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
            TryForVm(name, () =>
            {
                foreach (var checkpoint in CheckpointSelection.Select(name, Manager.GetCheckpoints(name, context), CheckpointName, WriteVmError).ToList())
                {
                    if (!ShouldProcess($"checkpoint '{checkpoint.CheckpointName}' of VM '{name}'", "Remove")) continue;
                    TryForVm(name, () => Manager.RemoveCheckpoint(name, checkpoint.CheckpointName, context));
                }
            });
    }
}
