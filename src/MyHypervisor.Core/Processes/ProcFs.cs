using System.Globalization;
using System.Text;

namespace MyHypervisor.Core.Processes;

/// <summary>Reads what the kernel publishes under /proc about processes. No caching: reality only.</summary>
public static class ProcFs
{
    private static readonly Lazy<string> CurrentBootId = new(() =>
        File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim());

    private static readonly Lazy<long> TicksPerSecond = new(() =>
    {
        var ticks = Mono.Unix.Native.Syscall.sysconf(Mono.Unix.Native.SysconfName._SC_CLK_TCK);
        return ticks > 0 ? ticks : 100;
    });

    private static readonly Lazy<DateTimeOffset> BootTime = new(() =>
    {
        foreach (var line in File.ReadLines("/proc/stat"))
            if (line.StartsWith("btime ", StringComparison.Ordinal))
                return DateTimeOffset.FromUnixTimeSeconds(long.Parse(line[6..].Trim(), CultureInfo.InvariantCulture));
        return DateTimeOffset.UnixEpoch;
    });

    public static string BootId => CurrentBootId.Value;
    public static long ClockTicksPerSecond => TicksPerSecond.Value;

    /// <summary>The fields of /proc/&lt;pid&gt;/stat after the command name, or null when the process is gone.</summary>
    public static ProcessStat? ReadStat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // The command name is in parentheses and may itself hold spaces and ')': split after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); field N is fields[N - 3].
        return new ProcessStat(
            State: fields[0][0],
            UserTicks: ulong.Parse(fields[14 - 3], CultureInfo.InvariantCulture),
            SystemTicks: ulong.Parse(fields[15 - 3], CultureInfo.InvariantCulture),
            StartTicks: ulong.Parse(fields[22 - 3], CultureInfo.InvariantCulture),
            RssPages: long.Parse(fields[24 - 3], CultureInfo.InvariantCulture));
    }

    public static string? ReadCommandLine(int pid)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return Encoding.UTF8.GetString(bytes).Replace('\0', ' ').TrimEnd();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>The process's arguments (argv, argv[0] included) as the kernel holds them, or null when it is gone.</summary>
    public static string[]? ReadArguments(int pid)
    {
        try
        {
            var text = Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/cmdline"));
            if (text.EndsWith('\0')) text = text[..^1];
            return text.Length == 0 ? Array.Empty<string>() : text.Split('\0');
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    public static string? ReadExecutable(int pid)
    {
        try
        {
            var target = new FileInfo($"/proc/{pid}/exe").LinkTarget;
            return target is null ? null : target.EndsWith(" (deleted)", StringComparison.Ordinal) ? target[..^10] : target;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>True while threads other than the group leader <paramref name="pid"/> still exist (exiting ones included).</summary>
    public static bool HasOtherThreads(int pid)
    {
        try { return Directory.EnumerateDirectories($"/proc/{pid}/task").Skip(1).Any(); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    public static IEnumerable<int> AllPids()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                yield return pid;
    }

    public static DateTimeOffset StartTimeOf(ulong startTicks) =>
        BootTime.Value + TimeSpan.FromSeconds((double)startTicks / ClockTicksPerSecond);

    public static TimeSpan TicksToTime(ulong ticks) => TimeSpan.FromSeconds((double)ticks / ClockTicksPerSecond);
}

public sealed record ProcessStat(char State, ulong UserTicks, ulong SystemTicks, ulong StartTicks, long RssPages)
{
    /// <summary>A zombie or dead task has exited; only its parent's wait is missing.</summary>
    public bool HasExited => State is 'Z' or 'X' or 'x';
}
