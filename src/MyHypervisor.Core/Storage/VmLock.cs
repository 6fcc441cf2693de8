using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// An exclusive per-VM lock that works across processes and runspaces. .NET takes an flock
/// for FileShare.None on Unix; the kernel drops it when the holder dies, which is how a
/// later command knows that a start journal's owner is gone.
/// </summary>
public sealed class VmLock : IDisposable
{
    private readonly FileStream stream;

    private VmLock(FileStream stream) => this.stream = stream;

    public static VmLock Acquire(string lockFile, string vmName, TimeSpan wait, CancellationToken cancel = default)
    {
        var lockedOut = TryAcquire(lockFile, wait, cancel);
        return lockedOut ?? throw new MyHvException(MyHvErrorKind.VmBusy,
            $"VM '{vmName}' is busy: another command is working on it. Try again when it has finished.", vmName);
    }

    /// <summary>Returns null when the lock is still held by someone else after <paramref name="wait"/>.</summary>
    public static VmLock? TryAcquire(string lockFile, TimeSpan wait, CancellationToken cancel = default)
    {
        var folder = Path.GetDirectoryName(lockFile)!;
        Configuration.MyHvPaths.EnsurePrivateDirectory(Path.GetDirectoryName(folder)!);
        Configuration.MyHvPaths.EnsurePrivateDirectory(folder);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                var options = new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                };
                return new VmLock(new FileStream(lockFile, options));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(25);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
