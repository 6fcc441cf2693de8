using System.Text;
using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>How an image boots.</summary>
public enum ImageFormat
{
    /// <summary>QEMU loads the image's kernel and initrd itself (vmlinuz, initrd.img, rootfs.ext4).</summary>
    DirectKernel,
    /// <summary>A partitioned disk.qcow2 with its own boot loader, booted through the firmware (SeaBIOS), as a cloud image is.</summary>
    WholeDisk,
}

/// <summary>
/// A Debian image from packages (mmdebstrap): a release, the packages on top of the base set,
/// the disk size and the format. Its <see cref="Hash"/> (over these and the guest files the build
/// adds) is the cache key: an image whose image.json carries the same hash is that build's result.
/// </summary>
/// <remarks>
/// Steps and fail points: workdir, rootfs (image.rootfs: mmdebstrap finished), kernel
/// (image.kernel: kernel and initrd copied out), disk (image.disk), manifest.
/// </remarks>
public sealed partial record DebianImageRecipe : IImageRecipe
{
    /// <summary>Bump when the build itself changes in a way the inputs below do not show.</summary>
    public const int FormatVersion = 1;
    private const string CommandLine = "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 quiet";

    /// <summary>Always in the image: init, kernel, agent, SSH, networking (systemd-networkd).</summary>
    public static readonly IReadOnlyList<string> BasePackages = new[]
    {
        "systemd-sysv", "udev", "dbus", "iproute2", "openssh-server", "qemu-guest-agent",
        "linux-image-cloud-amd64", "initramfs-tools",
    };

    public static readonly IReadOnlyList<string> Distributions = new[] { "bookworm" };

    public required string Name { get; init; }
    public string Distribution { get; init; } = "bookworm";
    public IReadOnlyList<string> ExtraPackages { get; init; } = Array.Empty<string>();
    public int DiskSizeGiB { get; init; } = 2;
    public ImageFormat Format { get; init; } = ImageFormat.DirectKernel;

    /// <summary>Base packages and extras, sorted, without repeats.</summary>
    public IReadOnlyList<string> AllPackages =>
        BasePackages.Concat(ExtraPackages).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public void Validate()
    {
        ImageNames.Check(Name);
        if (!Distributions.Contains(Distribution, StringComparer.Ordinal))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"The distribution '{Distribution}' is not supported; use one of: {string.Join(", ", Distributions)}.");
        foreach (var package in ExtraPackages)
            if (!PackagePattern().IsMatch(package))
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"'{package}' is not a Debian package name (lower-case letters, digits, '+', '-', '.'; at least two characters).");
        if (DiskSizeGiB is < 1 or > 1024)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"-DiskSizeGiB must be between 1 and 1024 (got {DiskSizeGiB}).");
    }

    public string Describe() =>
        $"image '{Name}' ({Distribution}, {AllPackages.Count} packages, {DiskSizeGiB} GiB disk{(Format == ImageFormat.WholeDisk ? ", whole disk booted by firmware" : "")})";

    /// <summary>sha256 over the recipe and the guest files, hex. A direct-kernel recipe hashes as it always did.</summary>
    public string Hash()
    {
        var text = new StringBuilder()
            .Append("format ").Append(FormatVersion).Append('\n')
            .Append("distribution ").Append(Distribution).Append('\n')
            .Append("packages ").Append(string.Join(',', AllPackages)).Append('\n')
            .Append("disk ").Append(DiskSizeGiB).Append('\n');
        if (Format == ImageFormat.WholeDisk) text.Append("boot ").Append(WholeDisk.Recipe).Append('\n');
        return GuestFiles.Debian.HashWith(text);
    }

    public IReadOnlyDictionary<string, string> CheckHost()
    {
        BuildPrerequisites.RequireRoot("mmdebstrap installs packages as root into the new file system");
        var programs = new List<(string, string)>
        {
            ("mmdebstrap", "mmdebstrap"), ("mkfs.ext4", "e2fsprogs"), ("setpriv", "util-linux"), ("unshare", "util-linux"),
        };
        if (Format == ImageFormat.WholeDisk) programs.AddRange(WholeDisk.Programs);
        var tools = BuildPrerequisites.Find(programs);
        CheckPackagesKnown();
        return tools;
    }

    /// <summary>Every Debian image's disk is its own: a rebuild gives new bytes.</summary>
    public bool KeepsDiskOf(string previousImage) => false;

    public BuiltImageManifest Produce(ImageBuildRun run)
    {
        run.Begin("rootfs");
        var guest = Path.Combine(run.Work, "guest");
        GuestFiles.Debian.WriteTo(guest);
        var root = Path.Combine(run.Work, "root");
        RootFsBuilder.Run(this, run.Tools, Path.Combine(guest, "hooks"), root, run.Ledger, run.Context, ImageBuilder.Activity);
        ImageBuildRun.Done("rootfs");

        run.Begin("kernel");
        run.Progress(Name, "Kernel and initrd", 80);
        // A whole disk carries them in its boot partition: they wait in the work folder until then.
        var bootFiles = Format == ImageFormat.WholeDisk ? Path.Combine(run.Work, "boot") : run.Staged;
        Directory.CreateDirectory(bootFiles);
        var kernel = KernelFiles.CopyOut(root, bootFiles);
        ImageBuildRun.Done("kernel");

        run.Begin("disk");
        run.Progress(Name, $"Root disk ({DiskSizeGiB} GiB ext4{(Format == ImageFormat.WholeDisk ? ", partitioned, with a boot loader" : "")})", 85);
        if (Format == ImageFormat.WholeDisk)
            WholeDisk.Make(run, root, bootFiles, DiskSizeGiB);
        else
            BuildTool.Run(run.Tools["mkfs.ext4"], new[] { "-q", "-F", "-L", "myhv-root", "-E", "root_owner=0:0", "-d", root,
                Path.Combine(run.Staged, ImageBuilder.DiskFile), $"{DiskSizeGiB}G" });
        ImageBuildRun.Done("disk");

        var manifest = new BuiltImageManifest
        {
            Name = Name,
            Disk = ImageBuilder.DiskFile,
            CommandLine = CommandLine,
            GuestAgent = true,
            KernelVersion = kernel.Version,
            KernelPackage = kernel.Package,
            Distribution = Distribution,
            Packages = AllPackages,
            DiskSizeGiB = DiskSizeGiB,
            HasGuestAgent = true,
            HasSsh = true,
            ReadsNoCloudSeed = true,
        };
        return Format == ImageFormat.WholeDisk ? WholeDisk.Describe(manifest) : manifest;
    }

    private void CheckPackagesKnown()
    {
        var apt = ProgramRunner.Find("apt-cache");
        if (apt is null || ExtraPackages.Count == 0) return;
        foreach (var package in ExtraPackages)
        {
            var result = ProgramRunner.Run(apt, new[] { "show", "--no-all-versions", package });
            if (result.ExitCode != 0 || string.IsNullOrWhiteSpace(result.StandardOutput))
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"apt knows no package '{package}' (from -Package). Check the name (apt-cache search {package}), or run apt-get update.");
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+$")]
    private static partial Regex PackagePattern();
}
