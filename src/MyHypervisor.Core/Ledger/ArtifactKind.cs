namespace MyHypervisor.Core.Ledger;

/// <summary>What a start step can create; each kind has exactly one idempotent undo in <see cref="ArtifactUndo"/>.</summary>
public enum ArtifactKind
{
    /// <summary>A VM's qcow2 overlay, created by this attempt (an existing one is never recorded).</summary>
    OverlayDisk,
    Directory,
    /// <summary>A file or unix socket that a helper or the hypervisor creates at a known path.</summary>
    File,
    /// <summary>A helper's lock file outside MYHV_HOME (QEMU's C virtiofsd keeps one under /run/virtiofsd).</summary>
    HelperLockFile,
    Process,
    TapDevice,
    /// <summary>
    /// A mount the module made at Path (a read-only bind mount of a shared folder, Name its source).
    /// Undone by unmounting it and removing the then empty mount-point directory; never by deleting
    /// through it.
    /// </summary>
    Mount,
    /// <summary>state.json written as Running; undone by writing back what it held before.</summary>
    CommittedState,
    /// <summary>
    /// A checkpoint being saved into the VM's disk (Path, the disk; Name, the snapshot tag; Socket,
    /// the VM's QMP socket when it runs). Undone by deleting that snapshot, through QEMU while it
    /// runs (after its snapshot job, which outlives a killed command, has ended), else with qemu-img.
    /// </summary>
    CheckpointSnapshot,
    /// <summary>
    /// A restore's undo point: a snapshot of the disk as it was before the restore (Path, the
    /// disk; Name, its tag). Undone by reverting the disk to it and deleting it (the hypervisor,
    /// recorded later, is ended first). Already gone means the restore committed.
    /// </summary>
    DiskUndoPoint,
    /// <summary>
    /// definition.json rewritten by a restore to the machine its memory checkpoint was taken on
    /// (Path, the file; PreviousContent, what it held). Undone by writing that back.
    /// </summary>
    ReplacedDefinition,
}

/// <summary>How long an artifact lives if the start succeeds.</summary>
public enum ArtifactScope
{
    /// <summary>Undone only if the attempt fails (the overlay, the committed state): kept after success.</summary>
    Attempt,
    /// <summary>Lives as long as the run: undone by a failed start, by Stop-MyVm and by crash recovery.</summary>
    Run,
}
