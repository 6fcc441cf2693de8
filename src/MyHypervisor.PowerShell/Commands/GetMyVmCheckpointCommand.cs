using System.Management.Automation;
using MyHypervisor.Core.Checkpoints;
using MyHypervisor.Core.Errors;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Lists the checkpoints of VMs, as their disks' snapshot tables say (the VM is reconciled first).</summary>
[Cmdlet(VerbsCommon.Get, "MyVmCheckpoint")]
[OutputType(typeof(CheckpointInfo))]
public sealed class GetMyVmCheckpointCommand : MyHypervisorCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("VmName")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    public string[] CheckpointName { get; set; } = { "*" };

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
            TryForVm(name, () =>
            {
                var checkpoints = Manager.GetCheckpoints(name, context);
                foreach (var match in CheckpointSelection.Select(name, checkpoints, CheckpointName, WriteVmError))
                    WriteObject(match);
            });
    }
}
