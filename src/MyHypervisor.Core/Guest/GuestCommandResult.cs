using System.Text;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// What a command in the guest did: its exit code, its output as text (UTF-8) and as the raw
/// bytes, how long it took, and whether it was killed because it ran past its timeout.
/// A non-zero exit code is data, not an error.
/// </summary>
public sealed class GuestCommandResult
{
    public GuestCommandResult(string vmName, string command, int pid, int exitCode, int? signal, byte[] stdOut, byte[] stdErr,
        TimeSpan duration, bool timedOut, bool outputTruncated)
    {
        VmName = vmName;
        Command = command;
        Pid = pid;
        ExitCode = exitCode;
        Signal = signal;
        StdOutBytes = stdOut;
        StdErrBytes = stdErr;
        StdOut = Encoding.UTF8.GetString(stdOut);
        StdErr = Encoding.UTF8.GetString(stdErr);
        Duration = duration;
        TimedOut = timedOut;
        OutputTruncated = outputTruncated;
    }

    public string VmName { get; }
    /// <summary>The command as run (program and arguments, or the -Command line).</summary>
    public string Command { get; }
    /// <summary>The process id in the guest.</summary>
    public int Pid { get; }
    /// <summary>The exit code; 128 + the signal number when a signal ended the process (as a shell reports it).</summary>
    public int ExitCode { get; }
    /// <summary>The signal that ended the process, if one did (9 after a timeout).</summary>
    public int? Signal { get; }
    public string StdOut { get; }
    public string StdErr { get; }
    public byte[] StdOutBytes { get; }
    public byte[] StdErrBytes { get; }
    public TimeSpan Duration { get; }
    /// <summary>The command ran past its timeout and was killed in the guest (with its process group).</summary>
    public bool TimedOut { get; }
    /// <summary>The guest agent kept only the first 16 MiB of stdout or stderr.</summary>
    public bool OutputTruncated { get; }

    public bool Succeeded => ExitCode == 0 && !TimedOut;

    public override string ToString() => StdOut;
}
