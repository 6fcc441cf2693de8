using System.Text;

namespace MyHypervisor.Core.Orphans;

/// <summary>
/// Whose an artifact is, written on the artifact itself so it can be traced without any file of
/// the home: the hypervisor and helper processes carry it in their environment (<see cref="Variable"/>),
/// a TAP device in its interface alias (<see cref="AliasPrefix"/> + the text). The text is
/// <c>vm=&lt;id&gt;;name=&lt;name&gt;;home=&lt;home&gt;</c>: the id is a fixed-width GUID, the name
/// has no ';' (VM names are [a-z0-9-]), and the home comes last, so it is read back exactly
/// whatever characters its path holds. Parsing is exact: anything else is no mark.
/// </summary>
public sealed record OwnerMark(Guid VmId, string VmName, string Home)
{
    /// <summary>The environment variable the module sets on every process it starts for a VM.</summary>
    public const string Variable = "MYHV_OWNER";
    /// <summary>What a TAP's alias starts with (the kernel keeps up to 255 bytes of it).</summary>
    public const string AliasPrefix = "myhypervisor ";
    private const int MaxAliasBytes = 255;

    public string Text => $"vm={VmId:D};name={VmName};home={Home}";

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { [Variable] = Text };

    /// <summary>The TAP alias, or null when the home's path cannot be one (too long, or a control character).</summary>
    public string? Alias
    {
        get
        {
            var alias = AliasPrefix + Text;
            return Encoding.UTF8.GetByteCount(alias) > MaxAliasBytes || alias.Any(char.IsControl) ? null : alias;
        }
    }

    public static OwnerMark? Parse(string? text)
    {
        if (text is null || !text.StartsWith("vm=", StringComparison.Ordinal) || text.Length < 3 + 36 + 6) return null;
        if (!Guid.TryParseExact(text.Substring(3, 36), "D", out var id)) return null;
        var rest = text[(3 + 36)..];
        if (!rest.StartsWith(";name=", StringComparison.Ordinal)) return null;
        var homeAt = rest.IndexOf(";home=", StringComparison.Ordinal);
        if (homeAt < 0) return null;
        var name = rest[6..homeAt];
        var home = rest[(homeAt + 6)..];
        if (Vms.VmNameRules.Problem(name) is not null || !home.StartsWith('/')) return null;
        return new OwnerMark(id, name, home);
    }

    public static OwnerMark? ParseAlias(string? alias) =>
        alias is not null && alias.StartsWith(AliasPrefix, StringComparison.Ordinal) ? Parse(alias[AliasPrefix.Length..].TrimEnd('\n')) : null;

    /// <summary>The mark in a process's environment (/proc/&lt;pid&gt;/environ), or null.</summary>
    public static OwnerMark? OfProcess(int pid)
    {
        byte[] environ;
        try { environ = File.ReadAllBytes($"/proc/{pid}/environ"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var prefix = Variable + "=";
        foreach (var entry in Encoding.UTF8.GetString(environ).Split('\0'))
            if (entry.StartsWith(prefix, StringComparison.Ordinal)) return Parse(entry[prefix.Length..]);
        return null;
    }

    /// <summary>The mark in a network interface's alias, or null.</summary>
    public static OwnerMark? OfInterface(string device)
    {
        try { return ParseAlias(File.ReadAllText($"/sys/class/net/{device}/ifalias")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
