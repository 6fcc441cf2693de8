namespace MyHypervisor.Core.Errors;

/// <summary>
/// The stable error ids of the contract. The cmdlet layer uses the name as the start of the
/// FullyQualifiedErrorId, so scripts can catch errors by id. Every error the module raises
/// carries one of these (a name already taken is InvalidVmName, an unreadable state file is
/// InvalidVmSpec), so a script's catch-by-id covers everything.
/// </summary>
public enum MyHvErrorKind
{
    VmNotFound,
    VmNotRunning,
    VmAlreadyRunning,
    VmBusy,
    InvalidVmName,
    InvalidVmSpec,
    ImageNotFound,
    VmStartFailed,
    PrerequisiteMissing,
    /// <summary>The module could not write its state (disk full, read-only), or a copy failed and was rolled back.</summary>
    StateWriteFailed,
}
