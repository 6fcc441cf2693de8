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
                return new VmLock(Open(lockFile));
            }
            catch (IOException e) when (IsHeldElsewhere(e) && DateTime.UtcNow < deadline)
            {
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(25);
            }
            catch (IOException e) when (IsHeldElsewhere(e))
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Opens and flocks the lock file. The file is never unlinked (Remove-MyVm keeps it): an
    /// unlinked lock would let a waiter lock the orphaned inode while a newcomer locks a new file.
    /// On a read-only state root an existing lock file is opened for reading (flock works on it
    /// all the same); a lock file that cannot be made is StateWriteFailed, never "busy".
    /// </summary>
    private static FileStream Open(string lockFile)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            return new FileStream(lockFile, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && !(e is IOException io && IsHeldElsewhere(io)))
        {
            if (!File.Exists(lockFile)) throw StateWrite.Failed(lockFile, e);
            try
            {
                return new FileStream(lockFile, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.None });
            }
            catch (IOException again) when (IsHeldElsewhere(again)) { throw; }
            catch (Exception) { throw StateWrite.Failed(lockFile, e); }
        }
    }

    /// <summary>EWOULDBLOCK from flock: another open file holds the lock (.NET reports it as a sharing violation).</summary>
    private static bool IsHeldElsewhere(IOException e) => (e.HResult & 0xFFFF) is 11 or 32;

    public void Dispose() => stream.Dispose();
}
