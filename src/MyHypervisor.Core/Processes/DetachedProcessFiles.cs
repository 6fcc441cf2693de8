namespace MyHypervisor.Core.Processes;

/// <summary>
/// The files a process started detached by start-stop-daemon leaves for the module (virtiofsd,
/// cloud-hypervisor): its pid file and its output log.
/// </summary>
public static class DetachedProcessFiles
{
    /// <summary>The pid in the file, or null while it is missing, empty or not a pid.</summary>
    public static int? ReadPidFile(string path)
    {
        try { return File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out var pid) && pid > 0 ? pid : null; }
        catch (IOException) { return null; }
    }

    /// <summary>": " and the last lines of the log, for an error message ("." when there is nothing to show).</summary>
    public static string LogTail(string log)
    {
        try
        {
            var lines = File.Exists(log) ? File.ReadAllLines(log).Where(l => l.Length > 0).TakeLast(5).ToArray() : Array.Empty<string>();
            return lines.Length == 0 ? "." : ": " + string.Join(" | ", lines);
        }
        catch (IOException) { return "."; }
    }
}
