using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// What a checkpoint may be called. The name becomes a qcow2 snapshot tag and reaches QEMU's
/// -loadvm, QMP and qemu-img, so it is held to a small, anchored alphabet: letters, digits, '.',
/// '_' and '-', starting with a letter or digit, at most 64 characters, no "..". All-digit names
/// are refused because qemu-img and QEMU look a snapshot up by its numeric id as well as by its
/// name ("2" could find another checkpoint). Names starting with "myhv-" are the module's own
/// (a restore's undo point).
/// </summary>
public static partial class CheckpointNameRules
{
    public const int MaxLength = 64;
    /// <summary>The prefix of the module's own snapshots in a VM's disk, never shown as checkpoints.</summary>
    public const string ReservedPrefix = "myhv-";

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Allowed();

    /// <summary>Why the name is not acceptable, or null.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "it is empty";
        if (name.Length > MaxLength) return $"it is longer than {MaxLength} characters";
        if (!Allowed().IsMatch(name))
            return "it may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit (no spaces, commas, slashes or control characters)";
        if (name.Contains("..", StringComparison.Ordinal)) return "it contains '..'";
        if (name.All(char.IsAsciiDigit)) return "it is all digits, which QEMU would also read as a snapshot id";
        if (name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase)) return $"names starting with '{ReservedPrefix}' are the module's own";
        return null;
    }

    public static void Validate(string? name, string vmName)
    {
        if (Problem(name) is { } problem)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"'{Printable(name)}' is not a valid checkpoint name: {problem}.", vmName);
    }

    /// <summary>A name as it can be shown in a message: control characters escaped.</summary>
    public static string Printable(string? name) =>
        name is null ? "" : string.Concat(name.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    /// <summary>The name given to a checkpoint when none is asked for: the UTC time, to the second.</summary>
    public static string Default(DateTimeOffset now) => "cp-" + now.UtcDateTime.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
}
