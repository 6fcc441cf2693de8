using System.Globalization;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// A Debian image as a whole disk with its own boot loader, made without mounting anything: an
/// MBR-partitioned raw disk (sfdisk) with a FAT boot partition (mkfs.vfat, files put in with
/// mcopy) that SYSLINUX boots (installed through mtools at the partition's offset, the MBR code
/// written over the first 440 bytes), and the root file system made in place by
/// mkfs.ext4 -d at the second partition's offset; then converted to qcow2. SeaBIOS runs the MBR,
/// which runs the active partition's SYSLINUX, which loads the kernel and initrd from it.
/// </summary>
internal static class WholeDisk
{
    /// <summary>Part of the recipe hash: change it when the layout or the boot loader changes.</summary>
    public const string Recipe = "mbr+syslinux 1: vda1 fat 64MiB (kernel, initrd), vda2 ext4 root";
    public const string DiskFile = "disk.qcow2";
    private const string MbrCode = "/usr/lib/syslinux/mbr/mbr.bin";
    private const long Sector = 512;
    private const long BootStart = 2048;                  // 1 MiB
    private const long BootSectors = 64L * 1024 * 1024 / Sector;
    private const long RootStart = BootStart + BootSectors;
    private const string CommandLine = "console=ttyS0 root=/dev/vda2 rw panic=-1 net.ifnames=0 quiet";

    public static readonly IReadOnlyList<(string Program, string Package)> Programs = new[]
    {
        ("sfdisk", "fdisk"), ("mkfs.vfat", "dosfstools"), ("mcopy", "mtools"), ("syslinux", "syslinux"),
        (MbrCode, "syslinux-common"), ("qemu-img", "qemu-utils"),
    };

    public static void Make(ImageBuildRun run, string root, string bootFiles, int sizeGiB)
    {
        var tools = run.Tools;
        // The image's fstab names the root partition (the direct-boot image's root is the whole /dev/vda).
        File.WriteAllText(Path.Combine(root, "etc/fstab"), "/dev/vda2 / ext4 rw,errors=remount-ro 0 0\n");
        File.WriteAllText(Path.Combine(bootFiles, "syslinux.cfg"),
            "SERIAL 0 115200\nDEFAULT debian\nPROMPT 0\nTIMEOUT 0\nLABEL debian\n" +
            $"  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND {CommandLine}\n");

        var raw = Path.Combine(run.Work, "disk.raw");
        var total = sizeGiB * 1024L * 1024 * 1024;
        using (var file = new FileStream(raw, FileMode.CreateNew, FileAccess.Write)) file.SetLength(total);   // sparse

        BuildTool.Run(tools["sfdisk"], new[] { "--quiet", raw }, new BuildTool.Options
        {
            Stdin = $"label: dos\nunit: sectors\n\nstart={BootStart}, size={BootSectors}, type=e, bootable\nstart={RootStart}, type=83\n",
        });

        var bootOffset = (BootStart * Sector).ToString(CultureInfo.InvariantCulture);
        var mtools = new Dictionary<string, string> { ["MTOOLS_SKIP_CHECK"] = "1" };
        BuildTool.Run(tools["mkfs.vfat"], new[] { "-I", "-F", "16", "--offset", BootStart.ToString(CultureInfo.InvariantCulture), "-n", "MYHVBOOT", raw,
            (BootSectors * Sector / 1024).ToString(CultureInfo.InvariantCulture) });
        BuildTool.Run(tools["mcopy"], new[] { "-i", $"{raw}@@{bootOffset}",
            Path.Combine(bootFiles, "vmlinuz"), Path.Combine(bootFiles, "initrd.img"), Path.Combine(bootFiles, "syslinux.cfg"), "::/" },
            new BuildTool.Options { Environment = mtools });
        BuildTool.Run(tools["syslinux"], new[] { "--offset", bootOffset, "--install", raw }, new BuildTool.Options { Environment = mtools });
        var mbr = File.ReadAllBytes(tools[MbrCode]);
        if (mbr.Length > 440) throw new IOException($"{MbrCode} is {mbr.Length} bytes; the MBR has room for 440");
        using (var file = new FileStream(raw, FileMode.Open, FileAccess.Write)) file.Write(mbr);

        var rootBytes = total - RootStart * Sector;
        BuildTool.Run(tools["mkfs.ext4"], new[] { "-q", "-F", "-L", "myhv-root",
            "-E", $"offset={(RootStart * Sector).ToString(CultureInfo.InvariantCulture)},root_owner=0:0", "-d", root, raw,
            $"{(rootBytes / 1024).ToString(CultureInfo.InvariantCulture)}k" });

        BuildTool.Run(tools["qemu-img"], new[] { "convert", "-q", "-f", "raw", "-O", "qcow2", raw, Path.Combine(run.Staged, DiskFile) });
        File.Delete(raw);
    }

    /// <summary>image.json of a whole disk: no kernel of its own to load, booted by the firmware.</summary>
    public static BuiltImageManifest Describe(BuiltImageManifest manifest) => manifest with
    {
        Boot = GuestImage.FirmwareBoot,
        Kernel = null,
        Initrd = null,
        Disk = DiskFile,
        DiskFormat = "qcow2",
        CommandLine = CommandLine,
    };
}
