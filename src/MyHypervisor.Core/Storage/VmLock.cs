using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// An exclusive per-VM lock that works across processes and runspaces. .NET takes an flock
/// for FileShare.None on Unix; the kernel drops it when the holder dies.
/// </summary>
/// <remarks>
/// A lock file is never unlinked while anyone holds it or is about to: every attempt to take a
/// VM's lock (open the file, flock it) runs under a shared lock of the folder's
/// <see cref="FolderLockName"/>, and <see cref="ReleaseAndDelete"/> (Remove-MyVm) releases the
/// VM's lock and unlinks its file under that folder lock taken exclusively. So no waiter can lock
/// an orphaned inode while a newcomer locks a new file at the same path; and after the flock an
/// attempt checks that the path still names the file it locked (someone outside the module may
/// have removed it), else it tries again.
/// </remarks>
public sealed class VmLock : IDisposable
{
    /// <summary>The folder lock beside the VM lock files (its name can be no VM's: names never start with '.').</summary>
    public const string FolderLockName = ".locks.lock";
    private static readonly TimeSpan FolderLockWait = TimeSpan.FromSeconds(1);

    private readonly FileStream stream;
    private readonly string lockFile;

    private VmLock(FileStream stream, string lockFile)
    {
        this.stream = stream;
        this.lockFile = lockFile;
    }

    public static VmLock Acquire(string lockFile, string vmName, TimeSpan wait, CancellationToken cancel = default)
    {
        var lockedOut = TryAcquire(lockFile, wait, cancel);
        return lockedOut ?? throw new MyHvException(MyHvErrorKind.VmBusy,
            $"VM '{vmName}' is busy: another command is working on it. Try again when it has finished.", vmName);
    }

    /// <summary>Returns null when the lock is still held by someone else after <paramref name="wait"/>.</summary>
    /// <param name="removable">
    /// False for a lock file that is never unlinked (the accelerator probe's): no folder lock is
    /// needed to guard it, so none is made beside it.
    /// </param>
    public static VmLock? TryAcquire(string lockFile, TimeSpan wait, CancellationToken cancel = default, bool removable = true)
    {
        var folder = Path.GetDirectoryName(lockFile)!;
        Configuration.MyHvPaths.EnsurePrivateDirectory(Path.GetDirectoryName(folder)!);
        Configuration.MyHvPaths.EnsurePrivateDirectory(folder);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var (folderLock, folderLocked) = removable ? TryFolderLock(folder, exclusive: false) : (null, true);
            if (folderLocked)
            {
                try
                {
                    var stream = Open(lockFile);
                    if (NamesFile(lockFile, stream)) return new VmLock(stream, lockFile);
                    stream.Dispose();   // unlinked under us by someone else: lock the file the path names now
                    continue;
                }
                catch (IOException e) when (IsHeldElsewhere(e)) { }
                finally { folderLock?.Dispose(); }
            }
            if (DateTime.UtcNow >= deadline) return null;
            cancel.ThrowIfCancellationRequested();
            Thread.Sleep(25);
        }
    }

    /// <summary>
    /// Releases the lock and removes its file, under the folder lock held exclusively, so nobody
    /// holds or is taking the VM's lock at the moment it is unlinked. When the folder lock cannot
    /// be had soon (an attempt under way), the file is kept: a kept lock file is harmless.
    /// </summary>
    public void ReleaseAndDelete()
    {
        var folder = Path.GetDirectoryName(lockFile)!;
        var deadline = DateTime.UtcNow + FolderLockWait;
        var (folderLock, locked) = TryFolderLock(folder, exclusive: true);
        while (!locked && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
            (folderLock, locked) = TryFolderLock(folder, exclusive: true);
        }
        stream.Dispose();
        if (!locked) return;
        try
        {
            if (folderLock is not null) File.Delete(lockFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* kept: harmless */ }
        finally { folderLock?.Dispose(); }
    }

    /// <summary>
    /// Takes the folder lock (shared or exclusive); (null, true) when the folder lock file cannot
    /// exist (a read-only state root: nothing can be unlinked there either); (null, false) when
    /// someone else holds it in the other mode.
    /// </summary>
    private static (FileStream? Stream, bool Locked) TryFolderLock(string folder, bool exclusive)
    {
        var path = Path.Combine(folder, FolderLockName);
        try
        {
            return (new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = exclusive ? FileShare.None : FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }), true);
        }
        catch (IOException e) when (IsHeldElsewhere(e)) { return (null, false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!File.Exists(path)) return (null, !exclusive);
            try
            {
                return (new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.Open, Access = FileAccess.Read, Share = exclusive ? FileShare.None : FileShare.ReadWrite,
                }), true);
            }
            catch (IOException again) when (IsHeldElsewhere(again)) { return (null, false); }
            catch (Exception) { return (null, !exclusive); }
        }
    }

    /// <summary>True when <paramref name="path"/> still names the file open in <paramref name="stream"/> (same device and inode).</summary>
    private static bool NamesFile(string path, FileStream stream)
    {
        if (Mono.Unix.Native.Syscall.stat(path, out var byName) != 0) return false;
        var fd = (int)stream.SafeFileHandle.DangerousGetHandle();
        if (Mono.Unix.Native.Syscall.fstat(fd, out var byHandle) != 0) return false;
        return byName.st_ino == byHandle.st_ino && byName.st_dev == byHandle.st_dev;
    }

    /// <summary>
    /// Opens and flocks the lock file. On a read-only state root an existing lock file is opened
    /// for reading (flock works on it all the same); a lock file that cannot be made is
    /// StateWriteFailed, never "busy".
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
