using System.Runtime.InteropServices;

namespace MyHypervisor.Core.SerialConsole;

/// <summary>
/// Puts the terminal on standard input in raw mode (cfmakeraw: no echo, no line editing, no
/// signals from Ctrl+C or Ctrl+Z, no output translation) and puts back exactly the settings it
/// found when disposed. The termios structure is handled as opaque bytes, so its layout never
/// matters here: it is only read, passed to cfmakeraw and written back.
/// </summary>
public sealed class RawTerminal : IDisposable
{
    private const int StandardInput = 0;
    private const int TcsaNow = 0;
    // Larger than any libc's struct termios (glibc x86-64: 60 bytes).
    private const int TermiosBytes = 256;

    private readonly byte[] saved;
    private bool restored;

    private RawTerminal(byte[] saved) => this.saved = saved;

    /// <summary>True when standard input is a terminal (a pipe or a file is copied as it is, no mode to set).</summary>
    public static bool IsTerminal => isatty(StandardInput) == 1;

    /// <summary>Raw mode on standard input, or null when it is not a terminal.</summary>
    public static RawTerminal? Enter()
    {
        if (!IsTerminal) return null;
        var saved = new byte[TermiosBytes];
        if (tcgetattr(StandardInput, saved) != 0) return null;
        var raw = (byte[])saved.Clone();
        cfmakeraw(raw);
        var terminal = new RawTerminal(saved);
        if (tcsetattr(StandardInput, TcsaNow, raw) != 0)
            throw new IOException($"could not put the terminal in raw mode (errno {Marshal.GetLastWin32Error()})");
        return terminal;
    }

    public void Dispose()
    {
        if (restored) return;
        restored = true;
        tcsetattr(StandardInput, TcsaNow, saved);
    }

    [DllImport("libc", SetLastError = true)] private static extern int isatty(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int tcgetattr(int fd, byte[] termios);
    [DllImport("libc", SetLastError = true)] private static extern int tcsetattr(int fd, int optionalActions, byte[] termios);
    [DllImport("libc")] private static extern void cfmakeraw(byte[] termios);
}
