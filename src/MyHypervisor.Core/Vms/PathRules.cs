using System.Globalization;

namespace MyHypervisor.Core.Vms;

/// <summary>
/// What a host path handed to a helper may hold. Commas, '=', backslashes and spaces are fine:
/// every helper gets them in a form its option parser cannot re-read (QEMU doubles commas,
/// virtiofsd's option parser takes backslash escapes, everything else is one argv entry each).
/// Control characters are refused: a newline splits the records of /proc/self/mountinfo readers,
/// log lines and the journal's JSON lines the user reads, and no real folder needs one.
/// </summary>
public static class PathRules
{
    /// <summary>Null when the path is acceptable, else the problem, naming the character and where it is.</summary>
    public static string? Problem(string path)
    {
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (!char.IsControl(c)) continue;
            var name = c switch
            {
                '\n' => "a newline",
                '\r' => "a carriage return",
                '\t' => "a tab",
                '\0' => "a NUL character",
                _ => "a control character",
            };
            return $"it contains {name} (U+{((int)c).ToString("X4", CultureInfo.InvariantCulture)}) at position {i + 1}; control characters are not allowed in paths";
        }
        return null;
    }
}
