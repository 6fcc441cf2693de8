using System.Management.Automation;
using MyHypervisor.Core.Checkpoints;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Brings VMs back to a checkpoint: a memory checkpoint runs on from where it was saved (no boot),
/// a disk checkpoint leaves the VM stopped with its disk as it was. A running VM is stopped first
/// only with -Force. A transaction: a failure or a kill leaves the VM, its disk and its checkpoints as they were.
/// </summary>
[Cmdlet(VerbsData.Restore, "MyVmCheckpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VmInfo))]
public sealed class RestoreMyVmCheckpointCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("VmName")]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    public string CheckpointName { get; set; } = string.Empty;

    /// <summary>Stops a running or paused VM first (its current state is given up).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>After a memory checkpoint's restore, waits until the guest's agent answers.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessLocalRecord()
    {
        foreach (var name in ResolveNames(Name))
        {
            TryForVm(name, () =>
            {
                // The plan is known only once the VM and the checkpoint's record are read: -WhatIf names the settings the restore puts back.
                var vm = Manager.RestoreCheckpoint(name, CheckpointName, Force, new StartOptions(Wait, TimeSpan.FromSeconds(TimeoutSeconds)),
                    plan => ShouldProcess($"VM '{name}'", Action(plan)),
                    CreateContext(new ProgressReporter(this, "Restore-MyVmCheckpoint", 1).Report));
                if (PassThru && vm is not null) WriteObject(vm);
            });
        }
    }

    private string Action(RestorePlan plan) =>
        $"Restore checkpoint '{CheckpointName}'{(Force ? " (stopping it first if it runs)" : "")}" +
        (plan.Redefines ? $", putting back the settings it was taken with: {plan.Describe()}" : "");
}
