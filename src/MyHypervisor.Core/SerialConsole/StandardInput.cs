using System.Runtime.InteropServices;

namespace MyHypervisor.Core.SerialConsole;

/// <summary>
/// Reads file descriptor 0 directly (poll, then read), so a wait can end every few hundred
/// milliseconds to notice a detach, a stop or a VM that powered off; .NET's Console.In would
/// block, buffer and translate keys instead.
/// </summary>
internal static class StandardInput
{
    private const short PollIn = 0x001;
    private const int Eintr = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>Bytes read (0 at end of input), or -1 when nothing arrived within <paramref name="timeout"/>.</summary>
    public static int Read(byte[] buffer, TimeSpan timeout)
    {
        var fds = new[] { new PollFd { Fd = 0, Events = PollIn } };
        var ready = poll(fds, 1, (int)timeout.TotalMilliseconds);
        if (ready == 0) return -1;
        if (ready < 0) return Marshal.GetLastWin32Error() == Eintr ? -1 : throw new IOException($"poll on standard input failed (errno {Marshal.GetLastWin32Error()})");
        var count = read(0, buffer, (nint)buffer.Length);
        if (count < 0) return Marshal.GetLastWin32Error() == Eintr ? -1 : throw new IOException($"reading standard input failed (errno {Marshal.GetLastWin32Error()})");
        return (int)count;
    }

    [DllImport("libc", SetLastError = true)] private static extern int poll([In, Out] PollFd[] fds, nuint count, int timeout);
    [DllImport("libc", SetLastError = true)] private static extern nint read(int fd, byte[] buffer, nint count);
}
