namespace MyHypervisor.Core.Images;

/// <summary>
/// A bootable guest, described by image.json in its folder: kernel, initramfs, root disk and
/// command line for direct kernel boot, or (Boot "Firmware") a whole disk with its own boot
/// loader that QEMU's firmware (SeaBIOS) starts.
/// </summary>
public sealed record GuestImage
{
    /// <summary>image.json's "Boot" for a whole-disk image.</summary>
    public const string FirmwareBoot = "Firmware";

    public required string Name { get; init; }
    public required string Folder { get; init; }
    /// <summary>Null for a whole-disk image (<see cref="BootsFromFirmware"/>).</summary>
    public string? Kernel { get; init; }
    public bool BootsFromFirmware => Kernel is null;
    public string? Initrd { get; init; }
    public required string Disk { get; init; }
    public string DiskFormat { get; init; } = "raw";
    public string CommandLine { get; init; } = "console=ttyS0";
    /// <summary>The console line the guest prints when it is ready for use.</summary>
    public string ReadyLine { get; init; } = "myhv-guest: ready";
    /// <summary>The guest runs qemu-ga on the virtio-serial port org.qemu.guest_agent.0 (image.json "GuestAgent").</summary>
    public bool GuestAgent { get; init; }
}
