using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

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
    private readonly ArtifactJournal journal;
    private readonly List<ArtifactRecord> records = new();
    private readonly Action<string>? narrate;
    private int nextSeq = 1;

    public OperationTransaction(string operation, ArtifactJournal journal, Action<string>? narrate)
    {
        Operation = operation;
        this.journal = journal;
        this.narrate = narrate;
        Attempt = Guid.NewGuid();
        journal.Begin(new ArtifactJournal.Header(ProcessLiveness.Identify(Environment.ProcessId), Attempt, DateTimeOffset.UtcNow));
    }

    public string Operation { get; }
    public Guid Attempt { get; }
    public string CurrentStep { get; private set; } = "prepare";
    public IReadOnlyList<ArtifactRecord> Records => records;

    /// <summary>Runs one step: notes it in the journal, runs it, then fires its fail point.</summary>
    public void Step(string step, CancellationToken cancel, Action body)
    {
        cancel.ThrowIfCancellationRequested();
        CurrentStep = step;
        journal.MarkStep(step);
        narrate?.Invoke($"Step {step}");
        body();
        StepDone(step);
    }

    public ArtifactRecord Intend(ArtifactRecord record)
    {
        var numbered = record with { Seq = nextSeq++, Attempt = Attempt };
        journal.Append(numbered);
        records.Add(numbered);
        narrate?.Invoke($"  recorded {numbered.Describe()}");
        return numbered;
    }

    /// <summary>The step's artifacts exist: its fail point fires here (&lt;operation&gt;.&lt;step&gt;).</summary>
    public void StepDone(string step) => FailPoints.Hit($"{Operation}.{step}");

    public void Commit() => journal.Retire();

    public RollbackReport Rollback()
    {
        var report = ArtifactUndo.UndoAll(records, narrate);
        // Kept when something could not be undone: the next recovery tries again.
        if (report.Leftovers.Count == 0) journal.Retire();
        return report;
    }
}
