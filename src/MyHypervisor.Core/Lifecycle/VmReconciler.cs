using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Makes the record match reality before any command trusts it: rolls back a start journal whose
/// owner died, and checks the recorded hypervisor process (pid, start time, executable, and its
/// pid-file argument). A dead VM is torn down with the same undo code a failed start uses, and
/// its state corrected. Every record is checked against the VM's reach (<see cref="RecordScope"/>)
/// first: one that fails is reported in the VM's Problems and never acted on.
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

    /// <summary>The engine of a VM's definition (its executable, marker and crash evidence).</summary>
    public Func<string, Hypervisors.IHypervisorDriver> Drivers { get; init; } = VmManager.DriverFor;

    /// <summary>The records of this VM may name only what this VM owns.</summary>
    public RecordScope ScopeOf(VmSession session) => new(Paths, session.Name, session.Definition.Network.TapName);

    /// <summary>Returns what it removed (empty when the record already matched reality).</summary>
    public IReadOnlyList<string> Reconcile(VmSession session, OperationContext context)
    {
        var scope = ScopeOf(session);
        var removed = new List<string>();
        removed.AddRange(RecoverInterruptedStart(session, scope, context));
        removed.AddRange(CheckHypervisor(session, scope, context));
        CheckHelpers(session);
        ReportUntrustedRecords(session, scope);
        return removed;
    }

    /// <summary>
    /// True only when <paramref name="identity"/> is alive (pid, start time, boot, executable) and
    /// is this VM's hypervisor: the engine's program, carrying this VM's marker as an argument
    /// (QEMU: its pid file; CH: its API socket). A hand-edited record naming any other live process
    /// is not trusted, and that process is never signalled.
    /// </summary>
    public bool IsOwnHypervisor(string name, ProcessIdentity identity, Hypervisors.IHypervisorDriver driver) =>
        ProcessLiveness.IsAlive(identity)
        && Path.GetFileName(ProcFs.ReadExecutable(identity.Pid) ?? identity.Executable ?? string.Empty) == driver.ExecutableName
        && ProcessLiveness.CarriesMarker(identity.Pid, driver.ProcessMarker(Paths, name));

    /// <summary>
    /// A journal exists only while a start is under way (the starter holds the VM's lock
    /// throughout), or after a rollback that left something behind (marked ended). We hold the
    /// lock now; the attempt is rolled back only once its recorded owner process (pid and start
    /// time) is gone too, or it is marked ended, or we are that owner: a lock that was broken
    /// (its file unlinked and made anew) must never roll back a live start.
    /// </summary>
    private IReadOnlyList<string> RecoverInterruptedStart(VmSession session, RecordScope scope, OperationContext context)
    {
        var journal = new ArtifactJournal(Paths.JournalFile(session.Name));
        if (!journal.Exists) return Array.Empty<string>();
        var (header, records) = journal.Read();
        if (header?.Owner is { } owner && owner.Pid != Environment.ProcessId && !journal.IsEnded() && ProcessLiveness.IsAlive(owner))
            throw new MyHvException(MyHvErrorKind.VmBusy,
                $"VM '{session.Name}' is busy: a start by {owner} (attempt {header.Attempt}) is still under way, although the VM's lock " +
                $"was free (was {Paths.LockFile(session.Name)} removed?). Nothing was rolled back; try again when that process has ended.",
                session.Name);
        // The step it died in, noted as each step began (api-ready and commit record no artifact).
        var step = journal.LastStep() ?? (records.Count > 0 ? records[^1].Step : StartSteps.Prepare);
        context.Say($"VM '{session.Name}': rolling back a start interrupted at step '{step}' (owner {header?.Owner?.ToString() ?? "unknown"} is gone)");
        var report = ArtifactUndo.UndoAll(records, scope, context.Narrate);
        if (report.Leftovers.Count == 0) journal.Retire();
        // A start that resumed a checkpoint (it took an undo point of the disk) is a restore: it leaves the VM as it was.
        var restore = records.Any(r => r.Kind == ArtifactKind.DiskUndoPoint);
        var reason = restore
            ? $"A checkpoint restore was interrupted at step '{step}' (the process running it died); it was rolled back, and the VM and its disk are as they were."
            : $"A start was interrupted at step '{step}' (the process running it died); it was rolled back.";
        if (report.Leftovers.Count > 0) reason += " Could not remove: " + string.Join("; ", report.Leftovers);
        // Re-read: the rollback may have restored the state from before the attempt.
        var before = store.ReadState(session.Name);
        session.Save(before with
        {
            Status = restore && before.Status is VmStatus.Stopped or VmStatus.Failed ? before.Status : VmStatus.Failed, Reason = reason, Hypervisor = null, Attempt = null,
            Artifacts = report.Remaining,
            StoppedAt = DateTimeOffset.UtcNow,
        });
        return report.Removed;
    }

    private IReadOnlyList<string> CheckHypervisor(VmSession session, RecordScope scope, OperationContext context)
    {
        var state = session.State;
        if (state.Status is VmStatus.Stopped or VmStatus.Failed) return Array.Empty<string>();
        var driver = Drivers(session.Definition.Hypervisor);
        if (state.Hypervisor is { } process && IsOwnHypervisor(session.Name, process, driver))
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

        // QEMU removes its pid file and CH its API socket on a clean exit (guest power-off, quit);
        // after a crash or SIGKILL they stay. That tells a guest shutdown from a crash.
        var crashed = driver.LeftCrashEvidence(Paths, session.Name);
        var pid = state.Hypervisor?.Pid.ToString() ?? "unknown";
        // A live process that is not this VM's QEMU is left alone; but a QEMU that is dying (killed,
        // its threads still exiting) has already lost its command line, and that is a dead VM.
        var impostor = state.Hypervisor is { } recorded && ProcessLiveness.IsAlive(recorded)
            && ProcFs.ReadArguments(recorded.Pid) is { Length: > 0 };
        context.Say(impostor
            ? $"VM '{session.Name}': its recorded hypervisor (pid {pid}) is a live process that is not this VM's {driver.ExecutableName}; it is left alone"
            : $"VM '{session.Name}': its hypervisor (pid {pid}) is gone; tearing down the run's artifacts");
        var report = ArtifactUndo.UndoAll(state.Artifacts, scope, context.Narrate);
        if (state.Status == VmStatus.Stopping || (!crashed && !impostor))
        {
            session.Save(state with
            {
                Status = VmStatus.Stopped, Hypervisor = null, Attempt = null, Artifacts = report.Remaining,
                StopMethod = StopMethod.AlreadyExited, StoppedAt = DateTimeOffset.UtcNow,
                Reason = "The hypervisor exited on its own: the guest powered off, rebooted or panicked (see Get-MyVmConsole).",
                ConsoleTail = null,
            });
            return report.Removed;
        }
        session.Save(state with
        {
            Status = VmStatus.Failed, Hypervisor = null, Attempt = null, Artifacts = report.Remaining,
            StoppedAt = DateTimeOffset.UtcNow,
            Reason = impostor
                ? $"The recorded hypervisor process (pid {pid}) is not this VM's {driver.ExecutableName} (another program, or without this VM's marker {driver.ProcessMarker(Paths, session.Name)}); the record was not trusted and that process was left alone."
                : $"The hypervisor process (pid {pid}) died unexpectedly (killed or crashed); what it removes on a clean exit (QEMU's pid file, CH's API socket) was left behind.",
            ConsoleTail = ConsoleLog.Tail(Paths.ConsoleLog(session.Name), ConsoleTailLines),
        });
        return report.Removed;
    }

    /// <summary>A running VM whose helper (virtiofsd) died is still running, but the user must hear of it.</summary>
    private static void CheckHelpers(VmSession session)
    {
        if (!session.State.Status.IsLive()) return;
        foreach (var helper in session.State.Artifacts.Where(a => a.Kind == ArtifactKind.Process && a.Step != StartSteps.HypervisorLaunch))
            if (helper.Process is { } identity && !ProcessLiveness.IsAlive(identity))
                session.Problems.Add($"{Path.GetFileName(helper.Program)} (pid {identity.Pid}) for {helper.Name ?? helper.Step} is not running");
    }

    /// <summary>Records kept in the state that no command will act on: reported on every look at the VM.</summary>
    private static void ReportUntrustedRecords(VmSession session, RecordScope scope)
    {
        foreach (var record in session.State.Artifacts)
        {
            var problem = record.Marker is not null && ProcessMarkers.Problem(record.Marker) is { } m ? m : scope.Problem(record);
            if (problem is not null)
                session.RecordProblems.Add($"untrusted record in {Path.GetFileName(session.StateFile)}, not acted on: {record.Describe()}: {problem}");
        }
    }
}
