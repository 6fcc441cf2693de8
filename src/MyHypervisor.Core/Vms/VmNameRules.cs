using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Vms;

/// <summary>
/// VM names become folder names, socket paths and TAP-name seeds, so only a safe alphabet is
/// accepted: lowercase letters, digits and dashes, starting with a letter or digit, at most 32.
/// </summary>
public static partial class VmNameRules
{
    public const int MaxLength = 32;

    // \A and \z, not ^ and $: $ also matches before a trailing newline ("web\n" would pass).
    [GeneratedRegex(@"\A[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\z")]
    private static partial Regex SafeName();

    public static void Validate(string? name)
    {
        var problem = Problem(name);
        if (problem is not null)
            throw new MyHvException(MyHvErrorKind.InvalidVmName, $"'{name}' is not a valid VM name: {problem}", name);
    }

    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "the name is empty.";
        if (name.Length > MaxLength) return $"it has {name.Length} characters; at most {MaxLength} are allowed.";
        if (name.Contains('/') || name.Contains('\\') || name.Contains("..")) return "it must not contain path separators or '..'.";
        if (name.StartsWith('-')) return "it must not start with a dash.";
        if (!SafeName().IsMatch(name))
            return "use lowercase letters, digits and dashes, starting and ending with a letter or digit.";
        return null;
    }
}
