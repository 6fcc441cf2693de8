namespace MyHypervisor.Core.Configuration;

/// <summary>
/// Folders searched for guest images by name. Images are inputs, not artifacts of a VM, so the
/// default image built by Bootstrap is found whatever MYHV_HOME is.
/// </summary>
public static class ImageSearchPath
{
    public static IReadOnlyList<string> Folders(MyHvPaths paths)
    {
        var folders = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable("MYHV_IMAGE_PATH");
        if (!string.IsNullOrWhiteSpace(fromEnv))
            folders.AddRange(fromEnv.Split(':', StringSplitOptions.RemoveEmptyEntries));
        folders.Add(Path.Combine(paths.Home, "images"));
        folders.Add(UserImageFolder());
        folders.Add("/usr/local/share/myhypervisor/images");
        return folders;
    }

    /// <summary>Where Bootstrap installs the default image: $XDG_DATA_HOME/myhypervisor/images.</summary>
    public static string UserImageFolder()
    {
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrWhiteSpace(data))
            data = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, "myhypervisor", "images");
    }
}
