using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Ledger;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// The undo of the two snapshot records (see <see cref="ArtifactKind.CheckpointSnapshot"/> and
/// <see cref="ArtifactKind.DiskUndoPoint"/>), called by <see cref="ArtifactUndo"/> like every
/// other undo: idempotent (a snapshot already gone counts as done).
/// </summary>
public static class SnapshotUndo
{
    /// <summary>How long an undo waits for a snapshot job still running in QEMU (a checkpoint whose command was killed).</summary>
    private static readonly TimeSpan JobWait = TimeSpan.FromMinutes(5);

    /// <summary>The QMP job id of an attempt's snapshot-save: known to its undo from the record alone.</summary>
    public static string JobId(Guid attempt) => $"myhv-checkpoint-{attempt:N}";

    public static UndoResult DeleteCheckpoint(ArtifactRecord record)
    {
        var tag = record.Name!;
        if (record.Socket is { } socket && File.Exists(socket))
        {
            try
            {
                if (record.Attempt is { } attempt) QcowSnapshots.SettleJob(socket, JobId(attempt), JobWait);
                if (QcowSnapshots.ListOnline(socket).All(e => e.Name != tag)) return UndoResult.AlreadyGone;
                QcowSnapshots.DeleteOnline(socket, tag);
                return UndoResult.Removed;
            }
            catch (QmpConnectionException)
            {
                // The hypervisor is gone (its socket file outlived it): the disk is free for qemu-img.
            }
        }
        var disk = record.Path!;
        if (!File.Exists(disk) || QcowSnapshots.ListOffline(disk).All(e => e.Name != tag)) return UndoResult.AlreadyGone;
        QcowSnapshots.DeleteOffline(disk, tag);
        return UndoResult.Removed;
    }

    /// <summary>The disk goes back to how it was before the restore; the undo point then goes.</summary>
    public static UndoResult RevertToUndoPoint(ArtifactRecord record)
    {
        var disk = record.Path!;
        var tag = record.Name!;
        if (!File.Exists(disk) || QcowSnapshots.ListOffline(disk).All(e => e.Name != tag)) return UndoResult.AlreadyGone;
        QcowSnapshots.ApplyOffline(disk, tag);
        QcowSnapshots.DeleteOffline(disk, tag);
        return UndoResult.Removed;
    }
}
