using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// A start attempt's ledger. Each step calls <see cref="Intend"/> before it creates an artifact
/// (the record reaches the disk first), <see cref="Update"/> once details such as a pid are known,
/// and <see cref="StepDone"/> after, which fires the step's fail point. Either <see cref="Commit"/>
/// hands the run's artifacts over, or <see cref="Rollback"/> undoes all of them newest first.
/// </summary>
public sealed class StartTransaction
{
    private readonly ArtifactJournal journal;
    private readonly List<ArtifactRecord> records = new();
    private readonly Action<string>? narrate;
    private readonly RecordScope? scope;
    private int nextSeq = 1;

    public StartTransaction(ArtifactJournal journal, Action<string>? narrate) : this(journal, narrate, null) { }

    /// <summary>With a <paramref name="scope"/>, the rollback checks each record against the VM's reach like any other undo.</summary>
    public StartTransaction(ArtifactJournal journal, Action<string>? narrate, RecordScope? scope)
    {
        this.journal = journal;
        this.narrate = narrate;
        this.scope = scope;
        Attempt = Guid.NewGuid();
        journal.Begin(new ArtifactJournal.Header(ProcessLiveness.Identify(Environment.ProcessId), Attempt, DateTimeOffset.UtcNow));
    }

    public Guid Attempt { get; }
    public string CurrentStep { get; private set; } = Lifecycle.StartSteps.Prepare;
    public IReadOnlyList<ArtifactRecord> Records => records;

    public void BeginStep(string step)
    {
        CurrentStep = step;
        journal.MarkStep(step);
        narrate?.Invoke($"Step {step}");
    }

    public ArtifactRecord Intend(ArtifactRecord record)
    {
        var numbered = record with { Seq = nextSeq++, Attempt = Attempt };
        journal.Append(numbered);
        records.Add(numbered);
        narrate?.Invoke($"  recorded {numbered.Describe()}");
        return numbered;
    }

    public ArtifactRecord Update(ArtifactRecord record)
    {
        journal.Append(record);
        records[records.FindIndex(r => r.Seq == record.Seq)] = record;
        return record;
    }

    /// <summary>The step's artifacts exist: this is where its fail point fires (start.&lt;step&gt;).</summary>
    public void StepDone(string step) => FailPoints.Hit(FailPointOperation + "." + step);

    /// <summary>The operation its fail points are named after: "start", or "restore" for a start that resumes a memory checkpoint.</summary>
    public string FailPointOperation { get; init; } = Lifecycle.StartSteps.Operation;

    /// <summary>The artifacts that live as long as the run, for the committed state.</summary>
    public IReadOnlyList<ArtifactRecord> RunArtifacts =>
        records.Where(r => r.Scope == ArtifactScope.Run).ToList();

    public void Retire() => journal.Retire();

    public RollbackReport Rollback()
    {
        var report = ArtifactUndo.UndoAll(records, scope, narrate);
        // Keep the journal if something could not be removed: Repair-MyVm can try again. It is
        // marked ended, so a later recovery knows this attempt is over even while its owner lives.
        if (report.Leftovers.Count == 0) journal.Retire();
        else journal.MarkEnded();
        return report;
    }
}
