namespace MyHypervisor.Core.Orphans;

/// <summary>What kind of leftover an orphan is (each is removed by the ledger's undo of the matching artifact kind).</summary>
public enum OrphanKind
{
    /// <summary>A hypervisor or helper process whose environment names a VM that has no record.</summary>
    Process,
    /// <summary>A TAP device whose alias names a VM that has no record.</summary>
    TapDevice,
    /// <summary>A mount under the runtime folder of a VM that has no record.</summary>
    Mount,
    /// <summary>A helper's lock file (QEMU's C virtiofsd, under /run/virtiofsd) naming a socket of a VM that has no record.</summary>
    HelperLockFile,
    /// <summary>A VM's runtime folder (run/&lt;name&gt;) with no VM record beside it.</summary>
    RuntimeFolder,
    /// <summary>A temporary file (<c>*.creating</c>, <c>.*.tmp</c>) that its writer left behind.</summary>
    TempFile,
}
