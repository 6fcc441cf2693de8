using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Orphans;

/// <summary>
/// Ends and removes orphans of the current home through the ledger's undo (<see cref="ArtifactUndo"/>),
/// the same code as every rollback, in the order a rollback would use: processes first (they hold
/// the sockets, mounts and TAP devices), then mounts, TAP devices, lock files, temporary files and
/// last the runtime folders (which are never deleted while they hold a mount). Another home's
/// orphan is refused, and each artifact is checked again right before it is touched: the process
/// must still be the one found (pid, start time, boot, program: checked again at the signal) and
/// still carry the same mark; a TAP must still carry its alias; its VM must still have no record.
/// </summary>
public sealed class OrphanRepair(Configuration.MyHvPaths paths)
{
    private static readonly OrphanKind[] Order =
    {
        OrphanKind.Process, OrphanKind.Mount, OrphanKind.TapDevice, OrphanKind.HelperLockFile, OrphanKind.TempFile, OrphanKind.RuntimeFolder,
    };

    /// <summary>The orphans in the order they are removed.</summary>
    public static IEnumerable<VmOrphan> InRemovalOrder(IEnumerable<VmOrphan> orphans) =>
        orphans.OrderBy(o => Array.IndexOf(Order, o.Kind));

    public UndoOutcome Remove(VmOrphan orphan)
    {
        var record = orphan.ToRecord();
        if (StillOrphan(orphan) is { } problem) return new UndoOutcome(record, UndoResult.Refused, problem);
        return ArtifactUndo.Undo(record);
    }

    /// <summary>Why the orphan may not be touched now, or null when it is still exactly what was found.</summary>
    private string? StillOrphan(VmOrphan orphan)
    {
        if (!orphan.IsCurrentHome || orphan.Home != paths.Home)
            return $"it belongs to another home ({orphan.Home}): only reported, never touched";
        var records = new HomeRecords(paths);
        if (orphan.Mark is { } mark && records.Holds(mark.VmId, mark.VmName))
            return $"VM '{mark.VmName}' has a record again";
        if (orphan.Mark is null && orphan.VmName is { } name && orphan.Kind != OrphanKind.TempFile && records.HasName(name))
            return $"VM '{name}' has a record again";
        return orphan.Kind switch
        {
            OrphanKind.Process when orphan.Process is not { } identity || !ProcessLiveness.IsAlive(identity) => null,   // gone: the undo says so
            OrphanKind.Process when OwnerMark.OfProcess(orphan.Process!.Pid) != orphan.Mark =>
                $"pid {orphan.Pid} no longer carries the mark it was found with",
            OrphanKind.TapDevice when Networking.TapDevices.Exists(orphan.Target) && OwnerMark.OfInterface(orphan.Target) != orphan.Mark =>
                $"{orphan.Target} no longer carries the alias it was found with",
            _ => null,
        };
    }
}
