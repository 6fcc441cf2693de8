using MyHypervisor.Core.Configuration;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// A start attempt's ledger. Each step calls <see cref="Intend"/> before it creates an artifact
/// (the record reaches the disk first), <see cref="Update"/> once details such as a pid are known,
/// and <see cref="StepDone"/> after, which fires the step's fail point. Either <see cref="Commit"/>
/// hands the run's artifacts over, or <see cref="Rollback"/> undoes all of them newest first.
/// </summary>
public sealed class StartTransaction
{
    private readonly LedgerRecorder ledger;
    private readonly Action<string>? narrate;
    private readonly RecordScope? scope;

    public StartTransaction(ArtifactJournal journal, Action<string>? narrate) : this(journal, narrate, null) { }

    /// <summary>With a <paramref name="scope"/>, the rollback checks each record against the VM's reach like any other undo.</summary>
    public StartTransaction(ArtifactJournal journal, Action<string>? narrate, RecordScope? scope)
    {
        this.narrate = narrate;
        this.scope = scope;
        ledger = new LedgerRecorder(journal, narrate, Lifecycle.StartSteps.Prepare);
    }

    public Guid Attempt => ledger.Attempt;
    public string CurrentStep => ledger.CurrentStep;
    public IReadOnlyList<ArtifactRecord> Records => ledger.Records;

    public void BeginStep(string step) => ledger.BeginStep(step);

    public ArtifactRecord Intend(ArtifactRecord record) => ledger.Intend(record);

    public ArtifactRecord Update(ArtifactRecord record) => ledger.Update(record);

    /// <summary>The step's artifacts exist: this is where its fail point fires (start.&lt;step&gt;).</summary>
    public void StepDone(string step) => FailPoints.Hit(FailPointOperation + "." + step);

    /// <summary>The operation its fail points are named after: "start", or "restore" for a start that resumes a memory checkpoint.</summary>
    public string FailPointOperation { get; init; } = Lifecycle.StartSteps.Operation;

    /// <summary>The artifacts that live as long as the run, for the committed state.</summary>
    public IReadOnlyList<ArtifactRecord> RunArtifacts =>
        ledger.Records.Where(r => r.Scope == ArtifactScope.Run).ToList();

    public void Retire() => ledger.Journal.Retire();

    public RollbackReport Rollback()
    {
        var report = ArtifactUndo.UndoAll(ledger.Records, scope, narrate);
        // Keep the journal if something could not be removed: Repair-MyVm can try again. It is
        // marked ended, so a later recovery knows this attempt is over even while its owner lives.
        if (report.Leftovers.Count == 0) ledger.Journal.Retire();
        else ledger.Journal.MarkEnded();
        return report;
    }
}
