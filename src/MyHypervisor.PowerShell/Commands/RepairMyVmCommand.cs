using System.Management.Automation;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Orphans;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Recovers VMs after a crash: rolls back interrupted starts, tears down runs whose hypervisor
/// died, ends leftover helper processes, and reports what it removed. With -Orphans: ends and
/// removes what Get-MyVmOrphan lists for the current home (artifacts of VMs whose record is gone).
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Name")]
[OutputType(typeof(RepairResult), ParameterSetName = new[] { "Name" })]
[OutputType(typeof(OrphanRemoval), ParameterSetName = new[] { "Orphans" })]
public sealed class RepairMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Name")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    /// <summary>Ends and removes the current home's orphans (see Get-MyVmOrphan); another home's are never touched.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Orphans")]
    public SwitchParameter Orphans { get; set; }

    /// <summary>First, copies interrupted by the death of their process are rolled back (Copy-MyVm).</summary>
    protected override void BeginLocalProcessing()
    {
        base.BeginLocalProcessing();   // MYHV_HOME is checked before anything in it is trusted
        Manager.RecoverInterruptedOperations(CreateContext());
    }

    protected override void ProcessLocalRecord()
    {
        if (Orphans) return;
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
        {
            if (!ShouldProcess($"VM '{name}'", "Repair")) continue;
            TryForVm(name, () => WriteObject(Manager.Repair(name, context)));
        }
    }

    protected override void EndLocalProcessing()
    {
        if (Orphans) RemoveOrphans();
        base.EndLocalProcessing();
    }

    private void RemoveOrphans()
    {
        var repair = new OrphanRepair(Manager.Paths);
        foreach (var orphan in OrphanRepair.InRemovalOrder(new OrphanCensus(Manager.Paths).Find()))
        {
            if (Stopping) return;
            if (!ShouldProcess($"{orphan.Kind} {orphan.Target} ({orphan.Reason})", "End and remove orphan")) continue;
            var outcome = repair.Remove(orphan);
            WriteVerbose($"Orphan {orphan.Kind} {orphan.Target}: {outcome}");
            if (outcome.Result is UndoResult.Failed or UndoResult.Refused)
                WriteWarning($"Orphan {orphan.Kind} {orphan.Target} was not removed: {outcome.Problem}");
            WriteObject(OrphanRemoval.From(orphan, outcome));
        }
    }
}
