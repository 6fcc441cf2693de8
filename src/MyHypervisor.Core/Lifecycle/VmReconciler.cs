using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Makes the record match reality before any command trusts it: rolls back a start journal whose
/// owner died, and checks the recorded hypervisor process (pid, start time, executable). A dead
/// VM is torn down with the same undo code a failed start uses, and its state corrected.
/// </summary>
public sealed class VmReconciler(VmStore store)
{
    private const int ConsoleTailLines = 20;

    /// <summary>
    /// Asks the live hypervisor of a VM recorded Paused whether its guest is paused (true), running
    /// (false) or unknown (null: its API did not answer; the record stands).
    /// </summary>
    public Func<VmSession, bool?>? PauseProbe { get; init; }
    private MyHvPaths Paths => store.Paths;

    /// <summary>Returns what it removed (empty when the record already matched reality).</summary>
    public IReadOnlyList<string> Reconcile(VmSession session, OperationContext context)
    {
        var removed = new List<string>();
        removed.AddRange(RecoverInterruptedStart(session, context));
        removed.AddRange(CheckHypervisor(session, context));
        CheckHelpers(session);
        return removed;
    }

    /// <summary>
    /// A journal exists only while a start is under way, and the starter holds the VM's lock
    /// throughout. We hold the lock now, so the journal's owner is gone: roll its attempt back.
    /// </summary>
    private IReadOnlyList<string> RecoverInterruptedStart(VmSession session, OperationContext context)
    {
        var journal = new ArtifactJournal(Paths.JournalFile(session.Name));
        if (!journal.Exists) return Array.Empty<string>();
        var (header, records) = journal.Read();
        // The step it died in, noted as each step began (api-ready and commit record no artifact).
        var step = journal.LastStep() ?? (records.Count > 0 ? records[^1].Step : "prepare");
        context.Say($"VM '{session.Name}': rolling back a start interrupted at step '{step}' (owner {header?.Owner?.ToString() ?? "unknown"} is gone)");
        var report = ArtifactUndo.UndoAll(records, context.Narrate);
        if (report.Leftovers.Count == 0) journal.Retire();
        var reason = $"A start was interrupted at step '{step}' (the process running it died); it was rolled back.";
        if (report.Leftovers.Count > 0) reason += " Could not remove: " + string.Join("; ", report.Leftovers);
        // Re-read: the rollback may have restored the state from before the attempt.
        session.Save(store.ReadState(session.Name) with
        {
            Status = VmStatus.Failed, Reason = reason, Hypervisor = null, Attempt = null,
            Artifacts = report.Outcomes.Where(o => o.Result == UndoResult.Failed).Select(o => o.Record).ToList(),
            StoppedAt = DateTimeOffset.UtcNow,
        });
        return report.Removed;
    }

    private IReadOnlyList<string> CheckHypervisor(VmSession session, OperationContext context)
    {
        var state = session.State;
        if (state.Status is VmStatus.Stopped or VmStatus.Failed) return Array.Empty<string>();
        if (state.Hypervisor is { } process && ProcessLiveness.IsAlive(process))
        {
            // Paused is the hypervisor's word, not the record's: ask it (only then, as it costs a QMP call).
            if (state.Status == VmStatus.Paused)
            {
                var paused = PauseProbe?.Invoke(session);
                if (paused == false) session.Save(state with { Status = VmStatus.Running });
                return Array.Empty<string>();
            }
            // Alive, and no command holds the lock: an interrupted stop left 'Stopping' behind.
            if (state.Status != VmStatus.Running) session.Save(state with { Status = VmStatus.Running });
            return Array.Empty<string>();
        }

        // QEMU removes its pid file on a clean exit (guest power-off, quit); after a crash or
        // SIGKILL the file stays. That tells a guest shutdown from a crash.
        var crashed = File.Exists(Paths.PidFile(session.Name));
        var pid = state.Hypervisor?.Pid.ToString() ?? "unknown";
        context.Say($"VM '{session.Name}': its hypervisor (pid {pid}) is gone; tearing down the run's artifacts");
        var report = ArtifactUndo.UndoAll(state.Artifacts, context.Narrate);
        var failedUndo = report.Outcomes.Where(o => o.Result == UndoResult.Failed).Select(o => o.Record).ToList();
        if (state.Status == VmStatus.Stopping || !crashed)
        {
            session.Save(state with
            {
                Status = VmStatus.Stopped, Hypervisor = null, Attempt = null, Artifacts = failedUndo,
                StopMethod = StopMethod.AlreadyExited, StoppedAt = DateTimeOffset.UtcNow,
                Reason = "The hypervisor exited on its own: the guest powered off, rebooted or panicked (see Get-MyVmConsole).",
                ConsoleTail = null,
            });
            return report.Removed;
        }
        session.Save(state with
        {
            Status = VmStatus.Failed, Hypervisor = null, Attempt = null, Artifacts = failedUndo,
            StoppedAt = DateTimeOffset.UtcNow,
            Reason = $"The hypervisor process (pid {pid}) died unexpectedly (killed or crashed); its pid file was left behind.",
            ConsoleTail = ConsoleLog.Tail(Paths.ConsoleLog(session.Name), ConsoleTailLines),
        });
        return report.Removed;
    }

    /// <summary>A running VM whose helper (virtiofsd) died is still running, but the user must hear of it.</summary>
    private static void CheckHelpers(VmSession session)
    {
        if (!session.State.Status.IsLive()) return;
        foreach (var helper in session.State.Artifacts.Where(a => a.Kind == ArtifactKind.Process && a.Step != "hypervisor-launch"))
            if (helper.Process is { } identity && !ProcessLiveness.IsAlive(identity))
                session.Problems.Add($"{Path.GetFileName(helper.Program)} (pid {identity.Pid}) for {helper.Name ?? helper.Step} is not running");
    }
}
