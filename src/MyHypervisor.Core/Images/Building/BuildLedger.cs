using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// An image build's ledger, the same write-ahead journal a start uses: each artifact (the work
/// folder, mmdebstrap) is recorded before it exists, and undone newest first when the build
/// fails, is stopped, or, after the process was killed, by the next build. The finished image
/// is never an artifact: it appears by one rename, and everything else lives in the work folder.
/// </summary>
internal sealed class BuildLedger
{
    private readonly ArtifactJournal journal;
    private readonly LedgerRecorder ledger;

    public BuildLedger(string journalPath, string workFolder)
    {
        journal = new ArtifactJournal(journalPath);
        WorkFolder = workFolder;
        ledger = new LedgerRecorder(journal, null, "prepare");
    }

    public Guid Attempt => ledger.Attempt;
    public string WorkFolder { get; }
    public string CurrentStep => ledger.CurrentStep;

    public void BeginStep(string step) => ledger.BeginStep(step);

    public ArtifactRecord Intend(ArtifactRecord record) => ledger.Intend(record);

    public void Update(ArtifactRecord record) => ledger.Update(record);

    /// <summary>The step's artifacts exist: its fail point (image.&lt;step&gt;) fires here.</summary>
    public static void StepDone(string step) => FailPoints.Hit("image." + step);

    /// <summary>Undoes everything (the work folder, whatever it holds, last) and retires the journal if all went.</summary>
    public RollbackReport Rollback() => Undo(journal, ledger.Records);

    /// <summary>Rolls back the journal of a build whose process is gone (killed). Null when there is none.</summary>
    public static RollbackReport? Recover(string journalPath)
    {
        var journal = new ArtifactJournal(journalPath);
        if (!journal.Exists) return null;
        var (_, recorded) = journal.Read();
        return Undo(journal, recorded);
    }

    /// <summary>True when the journal's owner is a live process (a build under way elsewhere).</summary>
    public static bool OwnerAlive(string journalPath)
    {
        var (header, _) = new ArtifactJournal(journalPath).Read();
        return header?.Owner is { } owner && ProcessLiveness.IsAlive(owner);
    }

    private static RollbackReport Undo(ArtifactJournal journal, IReadOnlyList<ArtifactRecord> recorded)
    {
        // mmdebstrap's children (dpkg, apt, in their own namespaces) carry the work folder on their
        // command lines too; a second sweep ends those a first one saw only as their parent's.
        var report = ArtifactUndo.UndoAll(recorded);
        foreach (var again in recorded.Where(r => r.Kind == ArtifactKind.Process))
            ArtifactUndo.Undo(again);
        var outcomes = report.Outcomes.ToList();
        var folders = recorded.Where(r => r.Kind == ArtifactKind.Directory).OrderByDescending(r => r.Seq);
        foreach (var folder in folders)
            if (outcomes.FindIndex(o => o.Record.Seq == folder.Seq && o.Result == UndoResult.Failed) is var i and >= 0)
                outcomes[i] = ArtifactUndo.Undo(folder);
        var final = new RollbackReport(outcomes);
        if (final.Leftovers.Count == 0) journal.Retire();
        return final;
    }
}
