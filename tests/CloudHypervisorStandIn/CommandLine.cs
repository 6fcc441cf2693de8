namespace CloudHypervisorStandIn;

/// <summary>
/// Cloud Hypervisor's command-line syntax, as far as the stand-in models it: clap-style options
/// (<c>--opt value</c> or <c>--opt=value</c>), and CH's own option lists for values
/// (<c>key=value,key=value</c>, unknown keys refused). What CH would refuse is refused here with
/// CH's wording and exit code, so a driver that passes a wrong argument fails its test. Options of
/// CH's that the stand-in does not model (a VM given on the command line: --kernel, --disk, ...)
/// are refused too, saying so: a stand-in must never pretend to have done what it cannot.
/// </summary>
public sealed record CommandLine(string? ApiSocketPath, int? ApiSocketFd, bool Version, int Verbosity, string? LogFile)
{
    /// <summary>CH's VM options: valid for CH, not modelled by the stand-in.</summary>
    private static readonly HashSet<string> UnmodelledOptions = new(StringComparer.Ordinal)
    {
        "--kernel", "--firmware", "--cmdline", "--initramfs", "--cpus", "--memory", "--memory-zone", "--disk", "--net",
        "--fs", "--pmem", "--vsock", "--serial", "--console", "--device", "--rng", "--balloon", "--numa", "--watchdog",
        "--platform", "--tpm", "--restore", "--seccomp", "--event-monitor", "--landlock", "--no-shutdown", "--pvpanic",
    };

    public static CommandLine Parse(string[] args)
    {
        string? path = null; int? fd = null; var version = false; var verbosity = 0; string? logFile = null;
        var seenApi = false;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var (name, inline) = arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains('=')
                ? (arg[..arg.IndexOf('=')], arg[(arg.IndexOf('=') + 1)..]) : (arg, null);
            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"a value is required for '{name} <{name[2..]}>' but none was supplied");
                return args[++i];
            }
            switch (name)
            {
                case "-V" or "--version": version = true; break;
                case "-v": verbosity++; break;
                case "-vv": verbosity += 2; break;
                case "-vvv": verbosity += 3; break;
                case "--log-file": logFile = Value(); break;
                case "--api-socket":
                    if (seenApi) throw new UsageException("the argument '--api-socket <api-socket>' cannot be used multiple times");
                    seenApi = true;
                    (path, fd) = ParseApiSocket(Value());
                    break;
                default:
                    if (UnmodelledOptions.Contains(name))
                        throw new UsageException($"'{name}' is a Cloud Hypervisor option this stand-in does not model (give the VM through vm.create)", exitCode: 1);
                    throw new UsageException($"unexpected argument '{arg}' found");
            }
        }
        return new CommandLine(path, fd, version, verbosity, logFile);
    }

    /// <summary>CH: "path=&lt;/path/to/a/file&gt; or fd=&lt;fd&gt;", an option list whose unknown keys are errors.</summary>
    private static (string?, int?) ParseApiSocket(string value)
    {
        var options = OptionList.Parse("--api-socket", value, "path", "fd");
        if (options.TryGetValue("fd", out var fdText))
        {
            if (!int.TryParse(fdText, out var fd) || fd < 0) throw new UsageException($"Error parsing --api-socket: invalid fd '{fdText}'", 1);
            return (null, fd);
        }
        if (options.TryGetValue("path", out var path))
        {
            if (path.Length == 0) throw new UsageException("Error parsing --api-socket: empty path", 1);
            return (path, null);
        }
        throw new UsageException("Error parsing --api-socket: path or fd is required", 1);
    }
}

/// <summary>CH's OptionParser: comma-separated key=value pairs; a key it does not know is an error.</summary>
public static class OptionList
{
    public static Dictionary<string, string> Parse(string option, string value, params string[] known)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in value.Split(','))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new UsageException($"Error parsing {option}: option '{part}' is not key=value", 1);
            var key = part[..eq];
            if (!known.Contains(key)) throw new UsageException($"Error parsing {option}: unknown option: {key}", 1);
            result[key] = part[(eq + 1)..];
        }
        return result;
    }
}

/// <summary>A refused command line: clap's usage errors exit 2, CH's own parse errors exit 1.</summary>
public sealed class UsageException(string message, int exitCode = 2) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
