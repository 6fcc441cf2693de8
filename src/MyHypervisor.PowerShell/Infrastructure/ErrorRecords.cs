using System.Management.Automation;
using MyHypervisor.Core.Errors;

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
        _ => ErrorCategory.NotSpecified,
    };

    private static string? HintFor(MyHvException error) => error.Kind switch
    {
        MyHvErrorKind.PrerequisiteMissing => "Run Test-MyVmHost to see what this host lacks and how to install it.",
        MyHvErrorKind.VmBusy => "Wait for the other command on this VM to finish, then try again.",
        MyHvErrorKind.VmStartFailed when error.Leftovers.Count > 0 => $"Run Repair-MyVm -Name {error.VmName} to remove what the rollback could not.",
        MyHvErrorKind.VmStartFailed => $"See Get-MyVmConsole -Name {error.VmName} for the guest's console output.",
        _ => null,
    };
}
