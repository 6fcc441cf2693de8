namespace MyHypervisor.Core.Images.Building;

/// <summary>The kernel and initramfs the kernel package installed into /boot of the new root, copied out for direct boot.</summary>
internal static class KernelFiles
{
    public sealed record Kernel(string Version, string? Package);

    public static Kernel CopyOut(string root, string staged)
    {
        var boot = Path.Combine(root, "boot");
        var kernels = Directory.Exists(boot) ? Directory.GetFiles(boot, "vmlinuz-*") : Array.Empty<string>();
        if (kernels.Length != 1)
            throw new IOException($"expected one kernel in {boot}, found {kernels.Length}");
        var version = Path.GetFileName(kernels[0])["vmlinuz-".Length..];
        var initrd = Path.Combine(boot, $"initrd.img-{version}");
        if (!File.Exists(initrd)) throw new IOException($"the kernel package made no initramfs ({initrd})");
        File.Copy(kernels[0], Path.Combine(staged, "vmlinuz"));
        File.Copy(initrd, Path.Combine(staged, "initrd.img"));
        return new Kernel(version, PackageOf(root, version));
    }

    /// <summary>"linux-image-&lt;version&gt; &lt;package version&gt;" from the new root's dpkg status.</summary>
    private static string? PackageOf(string root, string kernelVersion)
    {
        var status = Path.Combine(root, "var/lib/dpkg/status");
        if (!File.Exists(status)) return null;
        var name = $"linux-image-{kernelVersion}";
        string? current = null;
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith("Package: ", StringComparison.Ordinal)) current = line[9..];
            else if (current == name && line.StartsWith("Version: ", StringComparison.Ordinal)) return $"{name} {line[9..]}";
        }
        return name;
    }
}
