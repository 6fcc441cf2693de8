using System.Text.Json;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// The one piece of cleanup code: failed starts, crash recovery, Stop-MyVm and Repair-MyVm all
/// come here. Every undo is idempotent (already gone counts as done) and a failing undo never
/// stops the others.
/// </summary>
public static class ArtifactUndo
{
    /// <summary>Undoes the records newest first and reports what happened to each.</summary>
    public static RollbackReport UndoAll(IEnumerable<ArtifactRecord> records, Action<string>? narrate = null) =>
        UndoAll(records, null, narrate);

    /// <summary>
    /// As above, but every record is first checked against <paramref name="scope"/> (the VM it
    /// belongs to): a record that fails is Refused, never acted on. Every record read from disk
    /// goes through here.
    /// </summary>
    public static RollbackReport UndoAll(IEnumerable<ArtifactRecord> records, RecordScope? scope, Action<string>? narrate)
    {
        var outcomes = new List<UndoOutcome>();
        foreach (var record in records.Where(r => r is not null).OrderByDescending(r => r.Seq))
        {
            var outcome = Undo(record, scope);
            narrate?.Invoke($"Undo {outcome}");
            outcomes.Add(outcome);
        }
        return new RollbackReport(outcomes);
    }

    public static UndoOutcome Undo(ArtifactRecord record) => Undo(record, null);

    public static UndoOutcome Undo(ArtifactRecord record, RecordScope? scope)
    {
        // Whatever the scope: an empty or relative marker would match processes at random.
        var problem = record.Marker is not null && ProcessMarkers.Problem(record.Marker) is { } markerProblem
            ? markerProblem : scope?.Problem(record);
        if (problem is not null) return new UndoOutcome(record, UndoResult.Refused, problem);
        try
        {
            var result = record.Kind switch
            {
                ArtifactKind.OverlayDisk or ArtifactKind.File or ArtifactKind.HelperLockFile => DeleteFile(record.Path!),
                ArtifactKind.Directory => DeleteDirectory(record.Path!),
                ArtifactKind.Process => EndProcesses(record, checkMarker: scope is not null),
                ArtifactKind.TapDevice => DeleteTap(record.Name!),
                ArtifactKind.Mount => Unmount(record.Path!),
                ArtifactKind.CommittedState => RestoreState(record),
                ArtifactKind.ReplacedDefinition => RestoreDefinition(record),
                ArtifactKind.CheckpointSnapshot => Checkpoints.SnapshotUndo.DeleteCheckpoint(record),
                ArtifactKind.DiskUndoPoint => Checkpoints.SnapshotUndo.RevertToUndoPoint(record),
                _ => throw new InvalidOperationException($"no undo for {record.Kind}"),
            };
            return new UndoOutcome(record, result);
        }
        catch (Exception e)
        {
            return new UndoOutcome(record, UndoResult.Failed, e.Message);
        }
    }

    private static UndoResult DeleteFile(string path)
    {
        // File.Exists is false for a dangling entry we cannot stat; a socket or pid file counts as a file.
        if (!File.Exists(path)) return UndoResult.AlreadyGone;
        File.Delete(path);
        return UndoResult.Removed;
    }

    /// <summary>
    /// Deletes a directory tree, but never one that holds a mount point: a recursive delete would
    /// go through a bind mount and delete the files of the folder mounted there (a user's shared
    /// folder). Such a tree is left as it is and reported as Failed; the mount's own undo (newer
    /// in the ledger, so run first) or Repair-MyVm unmounts it.
    /// </summary>
    private static UndoResult DeleteDirectory(string path)
    {
        if (!Directory.Exists(path)) return UndoResult.AlreadyGone;
        var mounts = Volumes.BindMounts.MountPointsUnder(path);
        if (mounts.Count > 0)
            throw new InvalidOperationException(
                $"not deleted: it holds mount point(s) {string.Join(", ", mounts)}, and nothing may be deleted through a mount");
        Directory.Delete(path, recursive: true);
        return UndoResult.Removed;
    }

    /// <summary>
    /// Unmounts (a mount already gone counts as done, as /proc/self/mountinfo tells), then removes
    /// the mount-point directory only if it is empty: whatever is in it is not ours to delete.
    /// </summary>
    private static UndoResult Unmount(string mountPoint)
    {
        var unmounted = Volumes.BindMounts.Unmount(mountPoint);
        if (!Directory.Exists(mountPoint)) return unmounted ? UndoResult.Removed : UndoResult.AlreadyGone;
        if (Directory.EnumerateFileSystemEntries(mountPoint).Any())
            throw new InvalidOperationException($"the mount point {mountPoint} is not mounted but not empty either; left as it is");
        Directory.Delete(mountPoint, recursive: false);
        return UndoResult.Removed;
    }

    /// <summary>
    /// Ends the recorded process if it is still the same one, and any process of that program
    /// that carries the record's marker as a whole argument (found even if the pid was never
    /// written). With <paramref name="checkMarker"/> (a record read from disk) the recorded pid
    /// must carry the marker too: a pid, start time and program name alone could have been
    /// copied from any process on the host.
    /// </summary>
    private static UndoResult EndProcesses(ArtifactRecord record, bool checkMarker)
    {
        var victims = new List<ProcessIdentity>();
        if (record.Process is { } recorded && ProcessLiveness.IsAlive(recorded)
            && (!checkMarker || (record.Marker is { } m && ProcessLiveness.CarriesMarker(recorded.Pid, m))))
            victims.Add(recorded);
        if (record.Marker is { } marker)
            foreach (var found in ProcessLiveness.FindByMarker(marker, record.Program))
                if (victims.All(v => v.Pid != found.Pid) && IsProgram(found, record.Program))
                    victims.Add(found);
        if (victims.Count == 0) return UndoResult.AlreadyGone;
        var survivors = victims.Where(v => !ProcessTerminator.Terminate(v, ProcessTerminator.DefaultGrace)).ToList();
        if (survivors.Count > 0)
            throw new InvalidOperationException($"still running after SIGKILL: {string.Join(", ", survivors)}");
        return UndoResult.Removed;
    }

    private static bool IsProgram(ProcessIdentity identity, string? program) =>
        program is null || Path.GetFileName(identity.Executable ?? string.Empty) == Path.GetFileName(program);

    private static UndoResult DeleteTap(string name)
    {
        if (!Networking.TapDevices.Exists(name)) return UndoResult.AlreadyGone;
        Networking.TapDevices.Delete(name);
        return UndoResult.Removed;
    }

    /// <summary>Writes back the state from before the attempt, but only while the file still holds that attempt's commit.</summary>
    private static UndoResult RestoreState(ArtifactRecord record)
    {
        var path = record.Path!;
        if (!File.Exists(path) || record.PreviousContent is null) return UndoResult.AlreadyGone;
        if (AttemptOf(File.ReadAllText(path)) != record.Attempt) return UndoResult.AlreadyGone;
        AtomicFile.WriteAllText(path, record.PreviousContent);
        return UndoResult.Removed;
    }

    /// <summary>
    /// Writes back the definition from before a restore. The restore held the VM's lock from its
    /// write to its end, and a dead one is rolled back before any other command reads the VM, so
    /// nothing else can have changed the file in between.
    /// </summary>
    private static UndoResult RestoreDefinition(ArtifactRecord record)
    {
        var path = record.Path!;
        if (record.PreviousContent is null || (File.Exists(path) && File.ReadAllText(path) == record.PreviousContent)) return UndoResult.AlreadyGone;
        AtomicFile.WriteAllText(path, record.PreviousContent);
        return UndoResult.Removed;
    }

    private static Guid? AttemptOf(string stateJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(stateJson);
            return doc.RootElement.TryGetProperty("attempt", out var a) && a.TryGetGuid(out var g) ? g : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
