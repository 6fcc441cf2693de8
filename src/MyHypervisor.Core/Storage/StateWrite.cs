using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// Turns a failed write under the state root (no space left, a read-only file system, a
/// permission) into the contract's StateWriteFailed error naming the path and the cause, so no
/// raw IOException reaches the user. Callers write so that a failure leaves the earlier record
/// as it was (temp file and rename, write-ahead records).
/// </summary>
public static class StateWrite
{
    public static void Guard(string path, Action write, string? vmName = null) => Guard(path, () => { write(); return 0; }, vmName);

    public static T Guard<T>(string path, Func<T> write, string? vmName = null)
    {
        try
        {
            return write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not FileNotFoundException)
        {
            throw Failed(path, e, vmName);
        }
    }

    public static MyHvException Failed(string path, Exception cause, string? vmName = null) =>
        new(MyHvErrorKind.StateWriteFailed,
            $"Could not write '{path}': {CauseOf(cause)}. What was recorded before stays as it was; " +
            "free space on that file system (or make it writable) and run the command again.", vmName, cause);

    /// <summary>The OS's reason without .NET's repetition of the path ("No space left on device : '/x'").</summary>
    public static string CauseOf(Exception e)
    {
        if (e is UnauthorizedAccessException) return "permission denied (or the file is immutable)";
        var message = e.Message;
        var cut = message.IndexOf(" : '", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        return message.TrimEnd('.', ' ');
    }
}
