using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Ledger;

namespace MyHypervisor.Core.Transactions;

/// <summary>
/// The ledger of one transactional operation other than a start (a clone, a checkpoint): the same
/// journal and undo code as a start, with fail points named &lt;operation&gt;.&lt;step&gt;. Each
/// step records an artifact (<see cref="Intend"/>) before creating it; <see cref="StepDone"/> fires
/// the step's fail point once its artifacts exist; <see cref="Commit"/> retires the journal, or
/// <see cref="Rollback"/> undoes everything newest first. A journal whose owner died is rolled
/// back by <see cref="OrphanedTransactions"/>.
/// </summary>
public sealed class OperationTransaction
{
    private readonly LedgerRecorder ledger;
    private readonly Action<string>? narrate;

    public OperationTransaction(string operation, ArtifactJournal journal, Action<string>? narrate)
    {
        Operation = operation;
        this.narrate = narrate;
        ledger = new LedgerRecorder(journal, narrate, "prepare");
    }

    public string Operation { get; }
    public Guid Attempt => ledger.Attempt;
    public string CurrentStep => ledger.CurrentStep;
    public IReadOnlyList<ArtifactRecord> Records => ledger.Records;

    /// <summary>Runs one step: notes it in the journal, runs it, then fires its fail point.</summary>
    public void Step(string step, CancellationToken cancel, Action body)
    {
        cancel.ThrowIfCancellationRequested();
        ledger.BeginStep(step);
        body();
        StepDone(step);
    }

    public ArtifactRecord Intend(ArtifactRecord record) => ledger.Intend(record);

    /// <summary>The step's artifacts exist: its fail point fires here (&lt;operation&gt;.&lt;step&gt;).</summary>
    public void StepDone(string step) => FailPoints.Hit($"{Operation}.{step}");

    public void Commit() => ledger.Journal.Retire();

    public RollbackReport Rollback()
    {
        var report = ArtifactUndo.UndoAll(ledger.Records, narrate);
        // Kept when something could not be undone: the next recovery tries again.
        if (report.Leftovers.Count == 0) ledger.Journal.Retire();
        return report;
    }
}
