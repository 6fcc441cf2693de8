using Mono.Unix.Native;

namespace MyHypervisor.Core.Processes;

/// <summary>
/// Children inherit the umask at fork, so a helper started inside <see cref="Run{T}"/> creates
/// its files 0600 and folders 0700 (qemu-img's overlay, start-stop-daemon's pid file and log,
/// virtiofsd's files). The umask is process-wide, so it is set only around the fork and put
/// back at once: the user's own pwsh session keeps its umask. (QEMU's -daemonize sets umask 027
/// itself; the driver fixes the modes of what it creates after the launch.)
/// </summary>
public static class PrivateUmask
{
    private static readonly object Gate = new();

    public static T Run<T>(Func<T> spawn)
    {
        lock (Gate)
        {
            var previous = Syscall.umask(FilePermissions.S_IRWXG | FilePermissions.S_IRWXO);
            try { return spawn(); }
            finally { Syscall.umask(previous); }
        }
    }
}
