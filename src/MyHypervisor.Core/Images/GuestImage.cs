namespace MyHypervisor.Core.Images;

/// <summary>A bootable guest: kernel, initramfs, root disk and command line, described by image.json in its folder.</summary>
public sealed record GuestImage
{
    public required string Name { get; init; }
    public required string Folder { get; init; }
    public required string Kernel { get; init; }
    public string? Initrd { get; init; }
    public required string Disk { get; init; }
    public string DiskFormat { get; init; } = "raw";
    public string CommandLine { get; init; } = "console=ttyS0";
    /// <summary>The console line the guest prints when it is ready for use.</summary>
    public string ReadyLine { get; init; } = "myhv-guest: ready";
    /// <summary>The guest runs qemu-ga on the virtio-serial port org.qemu.guest_agent.0 (image.json "GuestAgent").</summary>
    public bool GuestAgent { get; init; }
}
