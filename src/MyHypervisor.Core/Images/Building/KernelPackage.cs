using System.Text.RegularExpressions;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// The Debian cloud kernel as a package file, for images that unpack it rather than install it
/// (tiny): the metapackage's current kernel, downloaded once into
/// $XDG_CACHE_HOME/myhypervisor/debs (a download lands in the build's work folder first and is
/// renamed into the cache when complete).
/// </summary>
internal static partial class KernelPackage
{
    public const string MetaPackage = "linux-image-cloud-amd64";

    public sealed record Package(string Name, string Version)
    {
        public string FileName => $"{Name}_{Version.Replace(":", "%3a")}_amd64.deb";
    }

    /// <summary>The .deb of the current cloud kernel, from the cache or downloaded now.</summary>
    public static string Fetch(IReadOnlyDictionary<string, string> tools, string workFolder, Action<string> say)
    {
        var package = Resolve(tools, say);
        var cache = Path.Combine(CacheFolder(), "debs");
        Directory.CreateDirectory(cache);
        var cached = Path.Combine(cache, package.FileName);
        if (File.Exists(cached)) return cached;

        var incoming = Path.Combine(workFolder, "incoming");
        Directory.CreateDirectory(incoming);
        say($"apt-get download {package.Name}={package.Version}");
        try
        {
            BuildTool.Run(tools["apt-get"], new[] { "download", "-q", $"{package.Name}={package.Version}" },
                new BuildTool.Options { WorkingDirectory = incoming });
        }
        catch (IOException) when (IsRoot)
        {
            // Stale lists (the mirror dropped that version): refresh once and resolve again.
            Update(tools);
            package = Resolve(tools, say);
            cached = Path.Combine(cache, package.FileName);
            BuildTool.Run(tools["apt-get"], new[] { "download", "-q", $"{package.Name}={package.Version}" },
                new BuildTool.Options { WorkingDirectory = incoming });
        }
        var downloaded = Path.Combine(incoming, package.FileName);
        if (!File.Exists(downloaded)) throw new IOException($"apt-get download did not produce {package.FileName}");
        File.Move(downloaded, cached, overwrite: true);
        return cached;
    }

    /// <summary>The metapackage's candidate depends on exactly one real kernel package: "name (= version)".</summary>
    private static Package Resolve(IReadOnlyDictionary<string, string> tools, Action<string> say)
    {
        string show;
        try { show = BuildTool.Run(tools["apt-cache"], new[] { "show", "--no-all-versions", MetaPackage }); }
        catch (IOException) { show = ""; }
        if (string.IsNullOrWhiteSpace(show))
        {
            if (!IsRoot)
                throw new IOException($"apt knows no package {MetaPackage} (empty apt lists?). Run as root: apt-get update");
            say("apt-get update");
            Update(tools);
            show = BuildTool.Run(tools["apt-cache"], new[] { "show", "--no-all-versions", MetaPackage });
        }
        var depends = show.Split('\n').FirstOrDefault(l => l.StartsWith("Depends:", StringComparison.Ordinal)) ?? "";
        var match = RealKernel().Match(depends);
        if (!match.Success) throw new IOException($"cannot find the real kernel package in '{depends}' of {MetaPackage}");
        return new Package(match.Groups["name"].Value, match.Groups["version"].Value);
    }

    private static void Update(IReadOnlyDictionary<string, string> tools) =>
        BuildTool.Run(tools["apt-get"], new[] { "update", "-qq" },
            new BuildTool.Options { Environment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" } });

    private static bool IsRoot => Mono.Unix.Native.Syscall.geteuid() == 0;

    private static string CacheFolder()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "myhypervisor");
    }

    [GeneratedRegex(@"(?<name>linux-image-[0-9][^\s,(]*-cloud-amd64)\s*\(=\s*(?<version>[^)\s]+)\)")]
    private static partial Regex RealKernel();
}
