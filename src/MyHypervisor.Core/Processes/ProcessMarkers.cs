namespace MyHypervisor.Core.Processes;

/// <summary>
/// How a process is recognised as one the module started when its pid is unknown: by a marker,
/// compared with each argument as a whole, never as a substring. A marker is either an
/// argument exactly as the module passed it (a path such as QEMU's pid file, or an option with a
/// path value such as <c>--socket-path=/home/run/vm/fs-x.sock</c>), or, ending with '/', a folder:
/// then an argument matches when it names a path (alone or as an option's value) whose parent
/// folder is exactly that folder. An empty marker, or one whose path is relative or not in
/// canonical form ('..', '//', '.'), matches nothing.
/// </summary>
public static class ProcessMarkers
{
    /// <summary>Why <paramref name="marker"/> cannot be used, or null when it can.</summary>
    public static string? Problem(string? marker)
    {
        if (string.IsNullOrEmpty(marker)) return "the marker is empty";
        if (marker.Contains('\0')) return "the marker holds a NUL character";
        var path = PathOf(marker.EndsWith('/') ? marker.TrimEnd('/') : marker);
        if (path is null || path.Length == 0) return $"the marker '{marker}' names no absolute path";
        if (!IsCanonical(path)) return $"the marker '{marker}' is not a canonical absolute path";
        return null;
    }

    /// <summary>
    /// The path a marker or an argument names: itself when absolute, the value of an option
    /// (<c>--name=/path</c>), or of a key in Cloud Hypervisor's option syntax (<c>path=/path</c>).
    /// </summary>
    public static string? PathOf(string argument)
    {
        if (argument.StartsWith('/')) return argument;
        if (KeyValuePath(argument) is { } value) return value;
        if (argument.StartsWith('-'))
        {
            var equals = argument.IndexOf('=');
            if (equals > 0 && equals + 1 < argument.Length && argument[equals + 1] == '/') return argument[(equals + 1)..];
        }
        return null;
    }

    /// <summary>"key=/path" with a lower-case key (CH's --api-socket path=...); a value with a comma is a list, not one path.</summary>
    private static string? KeyValuePath(string argument)
    {
        var equals = argument.IndexOf('=');
        if (equals <= 0 || equals + 1 >= argument.Length || argument[equals + 1] != '/') return null;
        if (!argument.AsSpan(0, equals).ToString().All(c => c is (>= 'a' and <= 'z') or '_' or '-')) return null;
        var value = argument[(equals + 1)..];
        return value.Contains(',') ? null : value;
    }

    /// <summary>True when <paramref name="argument"/> matches <paramref name="marker"/> as a whole (see the class summary).</summary>
    public static bool Matches(string marker, string argument)
    {
        if (Problem(marker) is not null) return false;
        if (!marker.EndsWith('/')) return argument == marker;
        var path = PathOf(argument);
        if (path is null || !IsCanonical(path)) return false;
        var parent = Path.GetDirectoryName(path);
        return parent is not null && parent == marker.TrimEnd('/');
    }

    /// <summary>Absolute, no empty, '.' or '..' component, no trailing '/'.</summary>
    public static bool IsCanonical(string path)
    {
        if (!path.StartsWith('/') || (path.Length > 1 && path.EndsWith('/'))) return false;
        foreach (var part in path.Split('/').Skip(1))
            if (part.Length == 0 || part == "." || part == "..") return false;
        return true;
    }
}
