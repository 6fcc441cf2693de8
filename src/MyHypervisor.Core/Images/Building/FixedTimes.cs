namespace MyHypervisor.Core.Images.Building;

/// <summary>Sets every entry under a folder (and the folder) to one fixed time, so archives and disks made from it are reproducible.</summary>
internal static class FixedTimes
{
    public static void Apply(string root, long epochSeconds)
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(epochSeconds).UtcDateTime;
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            if (Directory.Exists(entry)) { Directory.SetLastWriteTimeUtc(entry, time); Directory.SetLastAccessTimeUtc(entry, time); }
            else { File.SetLastWriteTimeUtc(entry, time); File.SetLastAccessTimeUtc(entry, time); }
        }
    }
}
