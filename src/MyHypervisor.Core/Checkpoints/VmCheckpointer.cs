using System.Globalization;
using System.Text.RegularExpressions;
using MyHypervisor.Core.Changes;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Transactions;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// Checkpoints of a VM, kept as internal snapshots of its own qcow2 disk (no other file): of a
/// running or paused VM with its memory and device state (QMP snapshot-save), of a stopped one
/// the disk only (qemu-img snapshot). Taking one and restoring one are transactions:
/// <list type="bullet">
/// <item>checkpoint.prepare (the snapshot is recorded), checkpoint.save (it exists): a failure or
/// kill deletes the new snapshot; the VM runs on (QEMU resumes the guest itself after a save).</item>
/// <item>A disk checkpoint's restore (a stopped VM): restore.storage (an undo point of the disk as
/// it is exists), restore.commit (the disk is reverted): a failure or kill reverts the disk to the
/// undo point.</item>
/// <item>A memory checkpoint's restore is a start whose QEMU resumes the checkpoint (-loadvm), with
/// the start's steps as restore.&lt;step&gt; and the undo point taken at restore.storage.</item>
/// </list>
/// Existing checkpoints are never touched by a rollback: each undo names only its own snapshot.
/// A memory checkpoint's record (<see cref="CheckpointRecords"/>) keeps the machine it was taken on;
/// its restore puts that machine back in the VM's definition, in the same transaction (see <see cref="RestorePlan"/>).
/// </summary>
public sealed partial class VmCheckpointer(VmStore store)
{
    public const string CheckpointOperation = "checkpoint";
    public const string RestoreOperation = "restore";
    private const string UndoPrefix = CheckpointNameRules.ReservedPrefix + "undo-";
    /// <summary>The longest a memory checkpoint's save may take (TCG on a busy host writes a 256 MiB guest in seconds).</summary>
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromMinutes(5);
    private MyHvPaths Paths => store.Paths;
    private readonly CheckpointRecords records = new(store.Paths);

    /// <summary>The ledger of a checkpoint or a disk restore under way (a memory restore uses the start's).</summary>
    public string JournalFile(string vm) => Path.Combine(Paths.VmDirectory(vm), "checkpoint.journal");

    // ---- recovery -------------------------------------------------------------------------------

    /// <summary>
    /// Rolls back a checkpoint or disk restore whose process died (called when a session opens,
    /// after the start journal's recovery, under the VM's lock). Every record is checked against
    /// the VM's reach first.
    /// </summary>
    public IReadOnlyList<string> RecoverInterrupted(VmSession session, OperationContext context)
    {
        var journal = new ArtifactJournal(JournalFile(session.Name));
        if (!journal.Exists) return Array.Empty<string>();
        var (header, records) = journal.Read();
        if (header?.Owner is { } owner && owner.Pid != Environment.ProcessId && !journal.IsEnded() && ProcessLiveness.IsAlive(owner))
            throw new MyHvException(MyHvErrorKind.VmBusy,
                $"VM '{session.Name}' is busy: a checkpoint operation by {owner} is still under way. Nothing was rolled back; try again when it has ended.", session.Name);
        context.Say($"VM '{session.Name}': rolling back a checkpoint operation interrupted at step '{journal.LastStep() ?? "prepare"}'");
        var report = ArtifactUndo.UndoAll(records, new RecordScope(Paths, session.Name, session.Definition.Network.TapName), context.Narrate);
        if (report.Leftovers.Count == 0) journal.Retire();
        else foreach (var leftover in report.Leftovers) session.Problems.Add($"an interrupted checkpoint operation left: {leftover} (Repair-MyVm retries)");
        return report.Removed;
    }

    // ---- list -----------------------------------------------------------------------------------

    public IReadOnlyList<CheckpointInfo> List(VmSession session, CancellationToken cancel = default) =>
        Entries(session, cancel).Where(e => !IsModuleOwn(e.Name)).Select(e => Info(session.Name, e)).Select(c => WithTakenOn(session.Name, c)).ToList();

    /// <summary>
    /// A memory checkpoint with its recorded machine. A listing shows a damaged record rather than
    /// failing: a restore of that checkpoint is what refuses it (InvalidVmSpec, naming the field).
    /// </summary>
    private CheckpointInfo WithTakenOn(string vm, CheckpointInfo c)
    {
        if (c.Kind != CheckpointKind.Memory) return c;
        try
        {
            return c with { TakenOn = records.Read(vm, c.CheckpointName)?.Shape?.Describe() ?? "(not recorded)" };
        }
        catch (MyHvException e)
        {
            return c with { TakenOn = $"(record unusable: {e.Message})" };
        }
    }

    /// <summary>Checkpoint names of a VM read from its disk without a lock (tab completion): empty when unreadable.</summary>
    public static IReadOnlyList<string> NamesForCompletion(MyHvPaths paths, string vm)
    {
        try
        {
            var disk = paths.OverlayFile(vm);
            return File.Exists(disk) ? QcowSnapshots.ListOffline(disk).Select(e => e.Name).Where(n => !IsModuleOwn(n)).ToList() : Array.Empty<string>();
        }
        catch (Exception e) when (e is InvalidOperationException or MyHvException or System.Text.Json.JsonException or TimeoutException or IOException)
        {
            return Array.Empty<string>();
        }
    }

    private static bool IsModuleOwn(string tag) => tag.StartsWith(CheckpointNameRules.ReservedPrefix, StringComparison.Ordinal);

    private IReadOnlyList<QcowSnapshots.Entry> Entries(VmSession session, CancellationToken cancel)
    {
        var disk = Paths.OverlayFile(session.Name);
        if (!File.Exists(disk)) return Array.Empty<QcowSnapshots.Entry>();
        return Call(session, "list the checkpoints of", () => IsLive(session)
            ? QcowSnapshots.ListOnline(Paths.ApiSocket(session.Name), cancel)
            : QcowSnapshots.ListOffline(disk));
    }

    private static CheckpointInfo Info(string vm, QcowSnapshots.Entry e) => new()
    {
        VmName = vm,
        CheckpointName = e.Name,
        Kind = e.VmStateSize > 0 ? CheckpointKind.Memory : CheckpointKind.Disk,
        CreatedAt = e.Date.UtcDateTime,
        GuestClock = e.VmClock,
        MemoryStateBytes = e.VmStateSize,
        SnapshotId = e.Id,
    };

    /// <summary>The one checkpoint with this exact name; InvalidVmSpec when there is none.</summary>
    public CheckpointInfo Find(VmSession session, string checkpointName, CancellationToken cancel = default)
    {
        CheckpointNameRules.Validate(checkpointName, session.Name);
        return List(session, cancel).FirstOrDefault(c => c.CheckpointName == checkpointName)
            ?? throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{session.Name}' has no checkpoint named '{checkpointName}'. Get-MyVmCheckpoint -Name {session.Name} lists them.", session.Name);
    }

    // ---- take -----------------------------------------------------------------------------------

    public CheckpointInfo Checkpoint(VmSession session, string? checkpointName, OperationContext context)
    {
        var name = session.Name;
        var tag = checkpointName ?? CheckpointNameRules.Default(DateTimeOffset.UtcNow);
        CheckpointNameRules.Validate(tag, name);
        var live = IsLive(session);
        if (live) RefuseMemoryStateOnOtherEngines(session);
        if (live && session.Definition.Volumes.Count > 0)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{name}' has virtiofs volumes ({string.Join(", ", session.Definition.Volumes.Select(v => v.Tag))}), and a running VM's memory " +
                "cannot be saved with them (vhost-user-fs devices are not migratable: the guest's view of the shared folders lives in virtiofsd). " +
                "Stop the VM to take a disk-only checkpoint.", name);
        var disk = Paths.OverlayFile(name);
        if (!File.Exists(disk))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}' has no disk yet (it was never started), so there is nothing to checkpoint.", name);
        SweepUndoPoints(session, context);
        if (Entries(session, context.Cancel).Any(e => e.Name == tag))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}' already has a checkpoint named '{tag}'. Remove-MyVmCheckpoint removes it, or choose another name.", name);

        // No snapshot has this name (checked above): a record of it is left from one removed behind the module's back.
        if (!live) records.Delete(name, tag);

        var transaction = Begin(CheckpointOperation, name, context);
        try
        {
            Report(context, name, "Checkpointing", "Recording", 10);
            transaction.Step("prepare", context.Cancel, () =>
            {
                transaction.Intend(new ArtifactRecord
                {
                    Kind = ArtifactKind.CheckpointSnapshot, Step = "prepare", Scope = ArtifactScope.Attempt,
                    Path = disk, Name = tag, Socket = live ? Paths.ApiSocket(name) : null,
                });
                // The machine the memory state is saved from (Set-MyVm changes no running VM: the definition is what QEMU runs).
                if (!live) return;
                transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = "prepare", Scope = ArtifactScope.Attempt, Path = records.FileOf(name, tag) });
                records.Write(name, new CheckpointRecord { CheckpointName = tag, TakenAt = DateTimeOffset.UtcNow, Shape = MachineShape.Of(session.Definition) });
            });
            Report(context, name, "Checkpointing", live ? "Saving the disk, memory and device state" : "Saving the disk", 30);
            transaction.Step("save", context.Cancel, () =>
            {
                if (live) QcowSnapshots.SaveOnline(Paths.ApiSocket(name), tag, SnapshotUndo.JobId(transaction.Attempt), SaveTimeout, context.Cancel);
                else QcowSnapshots.CreateOffline(disk, tag);
            });
            transaction.Commit();
            Report(context, name, "Checkpointing", "Done", 100);
        }
        catch (Exception failure)
        {
            throw RollBack(session, transaction, failure, $"Checkpointing VM '{name}' as '{tag}'", context);
        }
        context.Say($"VM '{name}': checkpoint '{tag}' taken ({(live ? "disk, memory and device state" : "disk only: the VM is stopped")})");
        return Find(session, tag, context.Cancel);
    }

    // ---- restore --------------------------------------------------------------------------------

    /// <summary>
    /// What restoring <paramref name="checkpoint"/> does to the VM's definition, checked before
    /// anything is touched: its record must be usable (InvalidVmSpec naming the file and field), and
    /// the machine it names must pass Set-MyVm's rules here and now (a bridge that still exists).
    /// </summary>
    public RestorePlan PlanRestore(VmSession session, CheckpointInfo checkpoint)
    {
        var name = session.Name;
        var before = session.Definition;
        if (checkpoint.Kind != CheckpointKind.Memory) return new RestorePlan(checkpoint, before, before, Array.Empty<string>(), ShapeRecorded: false);
        RefuseMemoryStateOnOtherEngines(session);
        var record = records.Read(name, checkpoint.CheckpointName);
        if (record is null)
        {
            // Taken before machines were recorded: restored on the definition as it is (a load that does not fit is explained after it fails).
            if (before.Volumes.Count > 0)
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"VM '{name}' now has virtiofs volumes, and a memory checkpoint cannot resume with them (vhost-user-fs devices are not migratable). " +
                    "Remove the volumes (Set-MyVm -Volume @()) to restore it.", name);
            return new RestorePlan(checkpoint, before, before, Array.Empty<string>(), ShapeRecorded: false);
        }
        VmReconfiguration.Plan change;
        try { change = VmReconfiguration.Apply(before, record.Shape!.ToChange(), TapDevices.BridgeExists); }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.InvalidVmSpec)
        {
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"Checkpoint '{checkpoint.CheckpointName}' of VM '{name}' was taken on a machine that cannot be set up now ({e.Message}); nothing was changed. " +
                $"Its record is {records.FileOf(name, checkpoint.CheckpointName)}.", name, e);
        }
        if (change.After.Volumes.Count > 0)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"Checkpoint '{checkpoint.CheckpointName}' of VM '{name}': its record ({records.FileOf(name, checkpoint.CheckpointName)}) names virtiofs volumes, " +
                "and a memory checkpoint cannot resume with them (vhost-user-fs devices are not migratable); nothing was changed.", name);
        return new RestorePlan(checkpoint, before, change.After, change.Changes, ShapeRecorded: true);
    }

    /// <summary>
    /// Restores a checkpoint of a VM that is not running (the caller stops a running one first,
    /// with -Force). A disk checkpoint leaves the VM stopped; a memory checkpoint is resumed by
    /// <paramref name="start"/> (a start with <see cref="StartOptions.Checkpoint"/>), so the guest
    /// runs on from where it was saved, on the machine of <paramref name="plan"/> (its definition
    /// written by the start's storage step, and written back by its rollback).
    /// </summary>
    public void Restore(VmSession session, RestorePlan plan, OperationContext context, Action<StartOptions> start, StartOptions startOptions)
    {
        var checkpoint = plan.Checkpoint;
        var name = session.Name;
        if (session.State.Status.IsLive())
            throw new MyHvException(MyHvErrorKind.VmAlreadyRunning, $"VM '{name}' is running: Restore-MyVmCheckpoint -Force stops it first.", name);
        SweepUndoPoints(session, context);
        if (checkpoint.Kind == CheckpointKind.Memory)
        {
            if (plan.Redefines)
                context.Say($"VM '{name}': checkpoint '{checkpoint.CheckpointName}' was taken on other settings; the restore puts them back in its definition: {plan.Describe()}");
            try
            {
                start(startOptions with { Checkpoint = checkpoint.CheckpointName, Definition = plan.Redefines ? plan.After : null });
            }
            catch (MyHvException e) when (e.Kind == MyHvErrorKind.VmStartFailed && LoadFailure(e) is { } qemuSaid)
            {
                context.Say($"VM '{name}': QEMU could not load the checkpoint's state: {qemuSaid}");
                throw MachineMismatch(session, plan, qemuSaid, e);
            }
            context.Say($"VM '{name}' resumed from checkpoint '{checkpoint.CheckpointName}'");
            if (plan.Redefines)
                context.Warning($"VM '{name}': its definition is back to the settings checkpoint '{checkpoint.CheckpointName}' was taken with: {plan.Describe()}. " +
                    "Set-MyVm on the stopped VM sets the ones from before the restore again.");
            return;
        }

        var disk = Paths.OverlayFile(name);
        var transaction = Begin(RestoreOperation, name, context);
        try
        {
            Report(context, name, "Restoring", "Keeping an undo point of the disk", 20);
            transaction.Step("storage", context.Cancel, () => TakeUndoPoint(transaction, disk));
            Report(context, name, "Restoring", "Reverting the disk", 60);
            transaction.Step("commit", context.Cancel, () => QcowSnapshots.ApplyOffline(disk, checkpoint.CheckpointName));
            transaction.Commit();
        }
        catch (Exception failure)
        {
            throw RollBack(session, transaction, failure, $"Restoring checkpoint '{checkpoint.CheckpointName}' of VM '{name}'", context);
        }
        // Committed: the undo point goes (a kill just here leaves it; the next checkpoint command sweeps it).
        var undo = transaction.Records.Single(r => r.Kind == ArtifactKind.DiskUndoPoint).Name!;
        TryDelete(() => QcowSnapshots.DeleteOffline(disk, undo), undo, context);
        Report(context, name, "Restoring", "Done", 100);
        context.Say($"VM '{name}': its disk is back at checkpoint '{checkpoint.CheckpointName}'");
    }

    /// <summary>QEMU's lines on a state that does not fit the machine it was started as (the start's rollback left everything as it was).</summary>
    private static string? LoadFailure(MyHvException e)
    {
        var text = e.InnerException?.Message ?? e.Message;
        if (!text.Contains("while loading VM state", StringComparison.Ordinal) && !text.Contains("cannot accept migration", StringComparison.Ordinal)) return null;
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0);
        return string.Join(" / ", lines.Select(l => l.Replace("qemu-system-x86_64: ", "", StringComparison.Ordinal)));
    }

    /// <summary>QEMU's "Size mismatch: pc.ram: 0x&lt;saved&gt; != 0x&lt;now&gt;" (the first size is the one in the saved state).</summary>
    [GeneratedRegex(@"Size mismatch: pc\.ram: 0x([0-9a-fA-F]+) != 0x([0-9a-fA-F]+)")]
    private static partial Regex RamSizeMismatch();

    /// <summary>
    /// The error of a memory checkpoint that QEMU could not load: said in the module's words (which
    /// settings, what to do), not QEMU's (its lines go to -Verbose). Taken before machines were
    /// recorded, it names the memory size QEMU reports it was saved with, if it does.
    /// </summary>
    private MyHvException MachineMismatch(VmSession session, RestorePlan plan, string qemuSaid, MyHvException failure)
    {
        var name = session.Name;
        var cp = plan.Checkpoint.CheckpointName;
        var d = plan.After;
        var now = $"Cpus {d.Cpus}, MemoryMiB {d.MemoryMiB}, Network {d.Network}";
        string message;
        if (plan.ShapeRecorded)
            message = $"Checkpoint '{cp}' of VM '{name}' could not be resumed on the machine it was taken on ({now}): its saved state does not fit " +
                "that machine (was its record edited, or the VM's image changed?). The VM, its definition and its disk are as they were before; " +
                $"a disk checkpoint or Start-MyVm still works. See -Verbose for QEMU's words.";
        else
        {
            var memory = "";
            if (RamSizeMismatch().Match(qemuSaid) is { Success: true } m
                && long.TryParse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var saved))
                memory = $" It was taken with MemoryMiB {saved / (1024 * 1024)}; the VM now has {d.MemoryMiB}.";
            message = $"Checkpoint '{cp}' of VM '{name}' was taken before the module recorded the settings of the machine a checkpoint is taken on, " +
                $"and its saved state does not fit the VM as it is defined now ({now}): its CPUs, memory or network were changed since (Set-MyVm).{memory} " +
                $"Set them back to the values it had when the checkpoint was taken (Set-MyVm -Name {name} -Cpus <n> -MemoryMiB <MiB> -Network <mode> on the stopped VM) " +
                "and restore it again. The VM and its disk are as they were before.";
        }
        return new MyHvException(MyHvErrorKind.InvalidVmSpec, message, name, failure) { FailedStep = failure.FailedStep, Leftovers = failure.Leftovers };
    }

    /// <summary>A restore's first step: a snapshot of the disk as it is, recorded first, so any failure can go back to it.</summary>
    public static void TakeUndoPoint(StartTransaction transaction, string disk) =>
        TakeUndoPoint(record => transaction.Intend(record), transaction.Attempt, transaction.CurrentStep, disk);

    private static void TakeUndoPoint(OperationTransaction transaction, string disk) =>
        TakeUndoPoint(record => transaction.Intend(record), transaction.Attempt, transaction.CurrentStep, disk);

    private static void TakeUndoPoint(Func<ArtifactRecord, ArtifactRecord> intend, Guid attempt, string step, string disk)
    {
        if (!File.Exists(disk)) throw new InvalidOperationException($"the VM's disk {disk} does not exist");
        var tag = UndoPrefix + attempt.ToString("N");
        intend(new ArtifactRecord { Kind = ArtifactKind.DiskUndoPoint, Step = step, Scope = ArtifactScope.Attempt, Path = disk, Name = tag });
        QcowSnapshots.CreateOffline(disk, tag);
    }

    /// <summary>After a memory restore's start committed: its undo point goes, through the QEMU that now holds the disk.</summary>
    public static void DropUndoPoint(StartTransaction transaction, string apiSocket, OperationContext context)
    {
        if (transaction.Records.FirstOrDefault(r => r.Kind == ArtifactKind.DiskUndoPoint) is not { Name: { } tag }) return;
        TryDelete(() => QcowSnapshots.DeleteOnline(apiSocket, tag), tag, context);
    }

    private static void TryDelete(Action delete, string tag, OperationContext context)
    {
        try { delete(); }
        catch (Exception e) when (e is QmpConnectionException or QmpException or InvalidOperationException or TimeoutException or IOException)
        {
            context.Say($"The undo point '{tag}' could not be deleted now ({e.Message}); the next checkpoint command removes it");
        }
    }

    /// <summary>
    /// Undo points no journal refers to (a restore killed after its commit, before it deleted its
    /// undo point) are deleted: only the module makes names with its prefix, and only while it
    /// holds the VM's lock, which the caller holds now.
    /// </summary>
    private void SweepUndoPoints(VmSession session, OperationContext context)
    {
        var live = IsLive(session);
        foreach (var stale in Entries(session, context.Cancel).Where(e => e.Name.StartsWith(UndoPrefix, StringComparison.Ordinal)))
        {
            context.Say($"VM '{session.Name}': removing the undo point '{stale.Name}' of a restore that had committed");
            var disk = Paths.OverlayFile(session.Name);
            TryDelete(live ? () => QcowSnapshots.DeleteOnline(Paths.ApiSocket(session.Name), stale.Name) : () => QcowSnapshots.DeleteOffline(disk, stale.Name), stale.Name, context);
        }
    }

    // ---- remove ---------------------------------------------------------------------------------

    public void Remove(VmSession session, CheckpointInfo checkpoint, OperationContext context)
    {
        var disk = Paths.OverlayFile(session.Name);
        Call(session, "remove a checkpoint of", () =>
        {
            if (IsLive(session)) QcowSnapshots.DeleteOnline(Paths.ApiSocket(session.Name), checkpoint.CheckpointName);
            else QcowSnapshots.DeleteOffline(disk, checkpoint.CheckpointName);
            return 0;
        });
        records.Delete(session.Name, checkpoint.CheckpointName);
        context.Say($"VM '{session.Name}': checkpoint '{checkpoint.CheckpointName}' removed");
    }

    // ---- shared ---------------------------------------------------------------------------------

    /// <summary>
    /// Memory checkpoints are QEMU's (snapshot-save into the qcow2 overlay, -loadvm to resume); an
    /// engine that cannot (Cloud Hypervisor: vm.snapshot is not mapped yet) refuses them. A stopped
    /// VM's disk checkpoint (qemu-img on its qcow2 overlay) works for every engine.
    /// </summary>
    private static void RefuseMemoryStateOnOtherEngines(VmSession session)
    {
        var driver = VmManager.DriverFor(session.Definition.Hypervisor);
        if (!driver.SupportsMemoryCheckpoints)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{session.Name}' runs on {driver.DisplayName}, whose memory snapshots (vm.snapshot, vm.restore) the module does not map yet. " +
                "Stop the VM to take a disk-only checkpoint.", session.Name);
    }

    private static bool IsLive(VmSession session) => session.State.Status.IsLive() && session.State.Hypervisor is not null;

    private OperationTransaction Begin(string operation, string vm, OperationContext context)
    {
        var journal = new ArtifactJournal(JournalFile(vm));
        if (journal.Exists)
            throw new MyHvException(MyHvErrorKind.VmBusy,
                $"VM '{vm}': an earlier checkpoint operation could not be fully rolled back ({journal.FilePath}). Run Repair-MyVm -Name {vm}.", vm);
        return new OperationTransaction(operation, journal, context.Narrate);
    }

    private static MyHvException RollBack(VmSession session, OperationTransaction transaction, Exception failure, string what, OperationContext context)
    {
        var step = transaction.CurrentStep;
        context.Say($"{what} failed at step '{step}' ({failure.Message}); rolling back");
        var report = transaction.Rollback();
        var reason = failure is OperationCanceledException ? "cancelled (the command was stopped)" : failure.Message;
        var message = report.Leftovers.Count == 0
            ? $"{what} failed at step '{step}': {reason}. The VM and its checkpoints are as they were."
            : $"{what} failed at step '{step}': {reason}. Could not undo: {string.Join("; ", report.Leftovers)}. Run Repair-MyVm -Name {session.Name}.";
        if (failure is MyHvException { Kind: not MyHvErrorKind.StateWriteFailed } known && transaction.Records.Count == 0)
            return known;
        return new MyHvException(MyHvErrorKind.StateWriteFailed, message, session.Name, failure) { FailedStep = step, Leftovers = report.Leftovers };
    }

    /// <summary>An API failure is "not running" when the process is gone, busy otherwise; never a socket error.</summary>
    private static T Call<T>(VmSession session, string what, Func<T> call)
    {
        try { return call(); }
        catch (Exception e) when (e is QmpConnectionException or QmpException or InvalidOperationException or TimeoutException or System.Text.Json.JsonException)
        {
            if (session.State.Hypervisor is { } process && !ProcessLiveness.IsAlive(process))
                throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{session.Name}' is not running: its hypervisor exited.", session.Name, e);
            throw new MyHvException(MyHvErrorKind.StateWriteFailed, $"Could not {what} VM '{session.Name}': {e.Message}", session.Name, e);
        }
    }

    private static void Report(OperationContext context, string vm, string verb, string status, int percent) =>
        context.Report(vm, $"{verb} VM '{vm}'", status, percent);
}
