namespace MyHypervisor.Core.Lifecycle;

/// <summary>Reads a VM's serial console log (written by the hypervisor).</summary>
public static class ConsoleLog
{
    public static IReadOnlyList<string> Tail(string path, int lines)
    {
        if (!File.Exists(path) || lines <= 0) return Array.Empty<string>();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        // Read at most the last 256 KiB: a console log of a long-lived VM can be large.
        const int window = 256 * 1024;
        if (stream.Length > window) stream.Seek(-window, SeekOrigin.End);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd().Replace("\r", string.Empty);
        var all = text.Split('\n');
        var count = all.Length > 0 && all[^1].Length == 0 ? all.Length - 1 : all.Length;
        return all.Take(count).Skip(Math.Max(0, count - lines)).ToList();
    }

    public static bool Contains(string path, string text)
    {
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
    }
}
