using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Transactions;

/// <summary>
/// Rolls back operation journals whose owner process is gone (killed mid-operation). Unlike a
/// start journal, such a journal is not tied to one VM's lock (a clone's VM does not exist yet),
/// so the owner's identity in its header (pid and start time) tells whether it is still at work.
/// </summary>
public static class OrphanedTransactions
{
    /// <summary>Undoes every journal in <paramref name="folder"/> matching <paramref name="pattern"/> whose owner died; returns what was removed.</summary>
    /// <param name="stillOurs">
    /// Asked of each record before it is undone: false for an artifact that is no longer the
    /// attempt's (a VM folder someone else created under that name after the owner died).
    /// </param>
    public static IReadOnlyList<string> Recover(string folder, string pattern, Action<string>? narrate, Func<ArtifactRecord, bool>? stillOurs = null)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder)) return removed;
        foreach (var file in Directory.EnumerateFiles(folder, pattern))
        {
            var journal = new ArtifactJournal(file);
            var (header, records) = journal.Read();
            // A journal still being begun (no header yet) or whose owner lives belongs to someone at work.
            if (header?.Owner is not { } owner || ProcessLiveness.IsAlive(owner)) continue;
            narrate?.Invoke($"Rolling back an operation interrupted at step '{journal.LastStep() ?? "prepare"}' ({Path.GetFileName(file)}; its owner {owner} is gone)");
            var report = ArtifactUndo.UndoAll(records.Where(r => stillOurs?.Invoke(r) ?? true), narrate);
            removed.AddRange(report.Removed);
            if (report.Leftovers.Count == 0) journal.Retire();
        }
        return removed;
    }
}
