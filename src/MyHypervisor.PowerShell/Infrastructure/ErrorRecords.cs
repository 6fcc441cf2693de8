using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>Core errors as ErrorRecords: the contract id first, a deliberate category, the VM as target.</summary>
public static class ErrorRecords
{
    /// <param name="commandType">
    /// For records made outside WriteError (a job's Error stream): the cmdlet's type, appended to the
    /// id as WriteError would, so a job's errors carry the same FullyQualifiedErrorId as the foreground's.
    /// </param>
    public static ErrorRecord From(MyHvException error, object? target, Type? commandType = null)
    {
        var id = commandType is null ? error.Kind.ToString() : $"{error.Kind},{commandType.FullName}";
        var record = new ErrorRecord(error, id, CategoryOf(error.Kind), target ?? error.VmName);
        var hint = HintFor(error);
        if (hint is not null) record.ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = hint };
        return record;
    }

    private static ErrorCategory CategoryOf(MyHvErrorKind kind) => kind switch
    {
        MyHvErrorKind.VmNotFound => ErrorCategory.ObjectNotFound,
        MyHvErrorKind.ImageNotFound => ErrorCategory.ObjectNotFound,
        MyHvErrorKind.VmNotRunning => ErrorCategory.InvalidOperation,
        // The VM is in the wrong state for the action (start a running VM, remove it without -Force).
        MyHvErrorKind.VmAlreadyRunning => ErrorCategory.InvalidOperation,
        MyHvErrorKind.VmBusy => ErrorCategory.ResourceBusy,
        MyHvErrorKind.InvalidVmName => ErrorCategory.InvalidArgument,
        MyHvErrorKind.InvalidVmSpec => ErrorCategory.InvalidArgument,
        MyHvErrorKind.PrerequisiteMissing => ErrorCategory.NotInstalled,
        MyHvErrorKind.VmStartFailed => ErrorCategory.OperationStopped,
        MyHvErrorKind.StateWriteFailed => ErrorCategory.WriteError,
        MyHvErrorKind.GuestAgentUnavailable => ErrorCategory.ResourceUnavailable,
        MyHvErrorKind.GuestCommandFailed => ErrorCategory.InvalidResult,
        MyHvErrorKind.VmHostUnreachable => ErrorCategory.ConnectionError,
        _ => ErrorCategory.NotSpecified,
    };

    private static string? HintFor(MyHvException error) => error.Kind switch
    {
        MyHvErrorKind.PrerequisiteMissing => "Run Test-MyVmHost to see what this host lacks and how to install it.",
        MyHvErrorKind.VmBusy => "Wait for the other command on this VM to finish, then try again.",
        MyHvErrorKind.VmStartFailed when error.Leftovers.Count > 0 => $"Run Repair-MyVm -Name {error.VmName} to remove what the rollback could not.",
        MyHvErrorKind.StateWriteFailed => "Free space on the file system of MYHV_HOME (or make it writable), then run the command again.",
        MyHvErrorKind.GuestAgentUnavailable => $"Check Get-MyVmGuest -Name {error.VmName}; a booting guest answers once it is ready (Start-MyVm -Wait).",
        MyHvErrorKind.VmStartFailed => StartHint(error.VmName, error.FailedStep),
        MyHvErrorKind.VmHostUnreachable => "Get-MyVmHost shows each host's state; Get-Help about_MyVmHost describes what a host needs (sshd with the powershell subsystem, your key, the module).",
        _ => null,
    };

    /// <summary>
    /// What to do after a failed start depends on how far it got: the guest's console exists (and
    /// is worth reading) only once QEMU runs the guest; before that the cause is on the host.
    /// </summary>
    private static string StartHint(string? vm, string? step) => step switch
    {
        StartSteps.ApiReady or StartSteps.Commit or StartSteps.Wait => $"See Get-MyVmConsole -Name {vm} for the guest's console output.",
        StartSteps.HypervisorLaunch => "QEMU's own message is quoted above; nothing was left behind. Test-MyVmHost checks QEMU, the accelerator and this user's access.",
        StartSteps.Volumes => "virtiofsd's message is quoted above; nothing was left behind. Check that each volume folder exists, and Test-MyVmHost for what volumes need.",
        StartSteps.Network => "The TAP device could not be set up; nothing was left behind. Test-MyVmHost shows whether this user may create TAP devices and which bridges exist.",
        StartSteps.Storage or StartSteps.RuntimeDirectory or StartSteps.GuestChannel or StartSteps.GuestAgent =>
            "The start was rolled back. Fix the cause quoted above (free space and permissions under MYHV_HOME) and start the VM again.",
        _ => $"Nothing was started. Fix the cause quoted above (Test-MyVmHost shows what this host and user can run), or run Repair-MyVm -Name {vm} if it names an earlier run.",
    };
}
