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
    /// <summary>The module could not write its state (disk full, read-only file system); what was recorded stays as it was.</summary>
    StateWriteFailed,
    /// <summary>The VM's guest agent is absent (an image without one), busy, or did not answer in time.</summary>
    GuestAgentUnavailable,
    /// <summary>Work in the guest failed: a command (with -ErrorOnNonZeroExit), or a file copy.</summary>
    GuestCommandFailed,
    /// <summary>A VM host (Connect-MyVmHost) could not be reached: not connected, SSH refused, or the session dropped.</summary>
    VmHostUnreachable,
}
