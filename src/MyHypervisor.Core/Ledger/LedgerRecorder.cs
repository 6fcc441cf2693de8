using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// What every transaction's ledger does alike (a start's, a clone's, a checkpoint's): the journal
/// begun with this process as its owner, each step noted as it begins, and each artifact numbered
/// and written to the journal before it exists. Rolling back and committing stay with the
/// transaction, which knows what its artifacts mean.
/// </summary>
public sealed class LedgerRecorder
{
    private readonly ArtifactJournal journal;
    private readonly List<ArtifactRecord> records = new();
    private readonly Action<string>? narrate;
    private int nextSeq = 1;

    /// <param name="firstStep">The step before any has begun (what a failure that early is said to have failed at).</param>
    public LedgerRecorder(ArtifactJournal journal, Action<string>? narrate, string firstStep)
    {
        this.journal = journal;
        this.narrate = narrate;
        CurrentStep = firstStep;
        Attempt = Guid.NewGuid();
        journal.Begin(new ArtifactJournal.Header(ProcessLiveness.Identify(Environment.ProcessId), Attempt, DateTimeOffset.UtcNow));
    }

    public ArtifactJournal Journal => journal;
    public Guid Attempt { get; }
    public string CurrentStep { get; private set; }
    public IReadOnlyList<ArtifactRecord> Records => records;

    /// <summary>Notes the step in the journal (a recovery says where the attempt died) and narrates it.</summary>
    public void BeginStep(string step)
    {
        CurrentStep = step;
        journal.MarkStep(step);
        narrate?.Invoke($"Step {step}");
    }

    /// <summary>Numbers the record and writes it to the journal; the caller creates the artifact after.</summary>
    public ArtifactRecord Intend(ArtifactRecord record)
    {
        var numbered = record with { Seq = nextSeq++, Attempt = Attempt };
        journal.Append(numbered);
        records.Add(numbered);
        narrate?.Invoke($"  recorded {numbered.Describe()}");
        return numbered;
    }

    /// <summary>A record with details learnt after its artifact exists (a pid), journaled again.</summary>
    public ArtifactRecord Update(ArtifactRecord record)
    {
        journal.Append(record);
        records[records.FindIndex(r => r.Seq == record.Seq)] = record;
        return record;
    }
}
