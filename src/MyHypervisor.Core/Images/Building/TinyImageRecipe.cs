using System.Text;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// The default guest image 'tiny' (New-MyVmImage -Name tiny): the Debian cloud kernel (unpacked
/// from its package, never installed), an initramfs of static busybox, the virtio/fuse/acpi
/// modules, qemu-ga with the libraries it links, and the guest's /init with its files
/// (Images/Building/TinyGuest), plus a small ext4 disk mounted at /data. No root is needed.
/// </summary>
/// <remarks>
/// Steps and fail points: workdir, kernel (image.kernel: package unpacked, vmlinuz copied),
/// rootfs (image.rootfs: initramfs made), disk (image.disk), manifest. The disk is bit-for-bit
/// reproducible and a rebuild keeps the previous image's disk file (VMs keep qcow2 overlays on it).
/// </remarks>
public sealed class TinyImageRecipe : IImageRecipe
{
    public const string DefaultName = "tiny";
    /// <summary>Bump when the build itself changes in a way the inputs in <see cref="Hash"/> do not show.</summary>
    public const int FormatVersion = 1;
    public const string CommandLine = "console=ttyS0 panic=-1 quiet";
    public const string ReadyLine = "myhv-guest: ready";
    private const string BusyboxPath = "/bin/busybox";        // busybox-static
    private const string GuestAgentPath = "/usr/sbin/qemu-ga"; // qemu-guest-agent (dynamically linked)

    /// <summary>Loaded by /init with insmod in this order (there is no modprobe metadata in the image).</summary>
    public static readonly IReadOnlyList<string> Modules = new[]
    {
        "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
        "virtio_blk", "failover", "net_failover", "virtio_net", "fuse", "virtiofs", "virtio_console",
        // Free page reporting hands memory the guest freed back to QEMU (TcgMemorySettings, /init).
        "virtio_balloon",
        "button", "evdev",
    };

    // The root disk depends on these only (never on the init): existing VMs' overlays sit on it, so
    // a rebuild must give the same bytes. Bump DiskVersion only knowing that it breaks their disks.
    public const int DiskVersion = 1;
    private const string DiskSize = "64M";
    private const string DiskLabel = "myhv-data";
    private const string DiskUuid = "6d796876-7469-4e79-8000-000000000001";
    private const string DiskHashSeed = "6d796876-7469-4e79-8000-000000000002";
    /// <summary>mtimes inside the initramfs and the disk.</summary>
    private const long FixedEpoch = 1700000000;

    public required string Name { get; init; }

    public void Validate() => ImageNames.Check(Name);

    public string Describe() => $"image '{Name}' (busybox initramfs, {KernelPackage.MetaPackage} kernel, {DiskSize} data disk)";

    public string Hash()
    {
        var text = new StringBuilder()
            .Append("recipe tiny ").Append(FormatVersion).Append('\n')
            .Append("kernel ").Append(KernelPackage.MetaPackage).Append('\n')
            .Append("modules ").Append(string.Join(',', Modules)).Append('\n')
            .Append("cmdline ").Append(CommandLine).Append('\n')
            .Append("disk ").Append(DiskVersion).Append(' ').Append(DiskSize).Append('\n');
        return GuestFiles.Tiny.HashWith(text);
    }

    public IReadOnlyDictionary<string, string> CheckHost() => BuildPrerequisites.Find(new[]
    {
        (BusyboxPath, "busybox-static"), (GuestAgentPath, "qemu-guest-agent"),
        ("mkfs.ext4", "e2fsprogs"), ("debugfs", "e2fsprogs"), ("e2fsck", "e2fsprogs"),
        ("dpkg-deb", "dpkg"), ("apt-cache", "apt"), ("apt-get", "apt"), ("ldd", "libc-bin"),
    });

    public bool KeepsDiskOf(string previousImage) =>
        BuiltImageManifest.TryRead(previousImage)?.DiskVersion == DiskVersion &&
        File.Exists(Path.Combine(previousImage, ImageBuilder.DiskFile));

    public BuiltImageManifest Produce(ImageBuildRun run)
    {
        run.Begin("kernel");
        run.Progress(Name, "Kernel package", 10);
        var deb = KernelPackage.Fetch(run.Tools, run.Work, run.Context.Say);
        var packageName = BuildTool.Run(run.Tools["dpkg-deb"], new[] { "-f", deb, "Package" }).Trim();
        var packageVersion = BuildTool.Run(run.Tools["dpkg-deb"], new[] { "-f", deb, "Version" }).Trim();
        run.Context.Say($"Building '{Name}' from {packageName} {packageVersion}");
        var kernelRoot = Path.Combine(run.Work, "kernel");
        BuildTool.Run(run.Tools["dpkg-deb"], new[] { "-x", deb, kernelRoot });
        var boot = Path.Combine(kernelRoot, "boot");
        var kernels = Directory.Exists(boot) ? Directory.GetFiles(boot, "vmlinuz-*") : Array.Empty<string>();
        if (kernels.Length != 1) throw new IOException($"expected one boot/vmlinuz-* in {deb}, found {kernels.Length}");
        var kernelVersion = Path.GetFileName(kernels[0])["vmlinuz-".Length..];
        File.Copy(kernels[0], Path.Combine(run.Staged, "vmlinuz"));
        ImageBuildRun.Done("kernel");

        run.Begin("rootfs");
        run.Progress(Name, "Initramfs (busybox, modules, qemu-ga, /init)", 40);
        TinyInitramfs.Make(kernelRoot, kernelVersion, Path.Combine(run.Work, "initramfs"), Path.Combine(run.Staged, "initrd.img"),
            run.Tools, FixedEpoch, run.Context.Say);
        ImageBuildRun.Done("rootfs");

        run.Begin("disk");
        run.Progress(Name, $"Data disk ({DiskSize} ext4)", 80);
        var disk = Path.Combine(run.Staged, ImageBuilder.DiskFile);
        if (KeepsDiskOf(run.Destination))
            ImageBuilder.LinkOrCopy(Path.Combine(run.Destination, ImageBuilder.DiskFile), disk);
        else
            MakeDisk(run, Path.Combine(run.Work, "disk"), disk);
        ImageBuildRun.Done("disk");

        return new BuiltImageManifest
        {
            Name = Name,
            Disk = ImageBuilder.DiskFile,
            CommandLine = CommandLine,
            ReadyLine = ReadyLine,
            // The init starts qemu-ga on the virtio-serial port org.qemu.guest_agent.0.
            GuestAgent = true,
            HasGuestAgent = true,
            KernelVersion = kernelVersion,
            KernelPackage = $"{packageName} {packageVersion}",
            DiskVersion = DiskVersion,
        };
    }

    /// <summary>A reproducible raw ext4 disk: fixed label, UUID, hash seed and times (ctimes pinned with debugfs).</summary>
    private void MakeDisk(ImageBuildRun run, string staging, string disk)
    {
        Directory.CreateDirectory(Path.Combine(staging, "etc"));
        File.WriteAllText(Path.Combine(staging, "etc/myhv-image-version"), $"myhypervisor image {Name}, disk version {DiskVersion}\n");
        FixedTimes.Apply(staging, FixedEpoch);
        var fakeTime = new Dictionary<string, string> { ["E2FSPROGS_FAKE_TIME"] = FixedEpoch.ToString() };
        BuildTool.Run(run.Tools["mkfs.ext4"], new[] { "-q", "-F", "-L", DiskLabel, "-U", DiskUuid,
            "-E", $"hash_seed={DiskHashSeed},root_owner=0:0", "-d", staging, disk, DiskSize },
            new BuildTool.Options { Environment = fakeTime });
        // mkfs copies each inode's ctime (which cannot be set on the host) from the source: pin them.
        var paths = new[] { "/" }.Concat(Directory.EnumerateFileSystemEntries(staging, "*", SearchOption.AllDirectories)
            .Select(p => "/" + Path.GetRelativePath(staging, p)).Order(StringComparer.Ordinal));
        var commands = new StringBuilder();
        foreach (var p in paths)
            foreach (var field in new[] { "atime", "mtime", "ctime", "crtime" })
                commands.Append("sif \"").Append(p).Append("\" ").Append(field).Append(" @").Append(FixedEpoch).Append('\n');
        BuildTool.Run(run.Tools["debugfs"], new[] { "-w", "-f", "-", disk },
            new BuildTool.Options { Stdin = commands.ToString(), Environment = fakeTime });
        BuildTool.Run(run.Tools["e2fsck"], new[] { "-f", "-n", disk });
    }
}
