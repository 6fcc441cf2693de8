namespace MyHypervisor.Core.Guest;

/// <summary>What Invoke-MyVmCommand asks the guest to run: a program and its arguments, never a shell string.</summary>
public sealed record GuestCommandRequest
{
    /// <summary>The program (a path, or a name looked up in the agent's PATH).</summary>
    public required string FilePath { get; init; }
    public IReadOnlyList<string> Arguments { get; init; } = Array.Empty<string>();
    /// <summary>Bytes for the program's stdin; null leaves stdin empty (/dev/null).</summary>
    public byte[]? Input { get; init; }
    public string? WorkingDirectory { get; init; }
    /// <summary>Variables added to (or replacing in) the agent's environment.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How the command is shown in results and errors.</summary>
    public string Display { get; init; } = "";

    /// <summary>
    /// The argv handed to guest-exec. setsid makes the program the leader of its own process
    /// group (it execs in place: the pid guest-exec reports is the program's), so a timeout kills
    /// it and everything it started. The working directory goes through sh as a positional
    /// argument ("$1"), never spliced into a script; the environment through env as NAME=VALUE
    /// arguments. Each wrapper execs the next, so the exit status is the program's own.
    /// </summary>
    public IReadOnlyList<string> GuestArgv()
    {
        var argv = new List<string> { "setsid" };
        if (WorkingDirectory is not null)
            argv.AddRange(new[] { "/bin/sh", "-c", "cd -- \"$1\" || exit 126; shift; exec \"$@\"", "sh", WorkingDirectory });
        if (Environment.Count > 0)
        {
            argv.Add("env");
            foreach (var (name, value) in Environment) argv.Add($"{name}={value}");
        }
        argv.Add(FilePath);
        argv.AddRange(Arguments);
        return argv;
    }

    /// <summary>A reason the request cannot be sent, or null.</summary>
    public string? Problem()
    {
        if (string.IsNullOrEmpty(FilePath)) return "no program was named";
        if (FilePath.Contains('\0') || Arguments.Any(a => a.Contains('\0'))) return "a program path or argument holds a NUL character";
        foreach (var name in Environment.Keys)
            if (name.Length == 0 || name.Contains('=') || name.Contains('\0') || char.IsDigit(name[0]))
                return $"'{name}' is not a valid environment variable name";
        if (Environment.Values.Any(v => v.Contains('\0'))) return "an environment value holds a NUL character";
        if (WorkingDirectory is { } dir && (dir.Length == 0 || dir.Contains('\0'))) return "the working directory is empty or holds a NUL character";
        if (Timeout <= TimeSpan.Zero) return "the timeout must be positive";
        // env would take a program named like NAME=VALUE for one more variable.
        if (Environment.Count > 0 && FilePath.Contains('=')) return "with -Environment, the program path cannot contain '='";
        return null;
    }
}
