using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Configuration;

/// <summary>
/// Test hooks compiled into the product (MYHV_FAILPOINTS=name=action;...). Parsed once per
/// process; an unset variable costs one dictionary lookup on an empty dictionary.
/// </summary>
public static class FailPoints
{
    public const string Variable = "MYHV_FAILPOINTS";
    private static readonly object Gate = new();
    private static string? parsedFrom;
    private static IReadOnlyDictionary<string, string> actions = new Dictionary<string, string>();

    public static void Hit(string name)
    {
        var action = ActionFor(name);
        switch (action)
        {
            case null:
                return;
            case "error":
                throw new FailPointException(name);
            case "kill":
                // The contract: the process running the cmdlet sends itself SIGKILL, so nothing in
                // this process gets to clean up. Recovery must come from the persisted journal.
                Mono.Unix.Native.Syscall.kill(Environment.ProcessId, Mono.Unix.Native.Signum.SIGKILL);
                Thread.Sleep(Timeout.Infinite);
                return;
            default:
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"{Variable} names the action '{action}' for '{name}'; the actions are 'error' and 'kill'.");
        }
    }

    private static string? ActionFor(string name)
    {
        var raw = Environment.GetEnvironmentVariable(Variable) ?? string.Empty;
        lock (Gate)
        {
            if (raw != parsedFrom)
            {
                actions = Parse(raw);
                parsedFrom = raw;
            }
            return actions.TryGetValue(name, out var action) ? action : null;
        }
    }

    private static Dictionary<string, string> Parse(string raw)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in raw.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=');
            if (eq <= 0) continue;
            result[entry[..eq].Trim()] = entry[(eq + 1)..].Trim().ToLowerInvariant();
        }
        return result;
    }
}

/// <summary>Thrown by a fail point set to 'error': the attempt fails as any failure would.</summary>
public sealed class FailPointException(string name) : Exception($"fail point '{name}' was triggered")
{
    public string FailPoint { get; } = name;
}
