using System.Text.Json;
using System.Text.Json.Serialization;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// image.json as New-MyVmImage writes it: the fields every image has (read by
/// <see cref="ImageCatalog"/>) and what the builder knows besides (read by Get-MyVmImage).
/// </summary>
public sealed record BuiltImageManifest
{
    public required string Name { get; init; }
    /// <summary>"Firmware" for a whole disk with its own boot loader; absent for direct kernel boot.</summary>
    public string? Boot { get; init; }
    public string? Kernel { get; init; } = "vmlinuz";
    public string? Initrd { get; init; } = "initrd.img";
    public string Disk { get; init; } = "rootfs.ext4";
    public string DiskFormat { get; init; } = "raw";
    public string CommandLine { get; init; } = "console=ttyS0";
    public string ReadyLine { get; init; } = "myhv-guest: ready";
    /// <summary>The guest runs qemu-ga on org.qemu.guest_agent.0 (read by the module when it starts the VM).</summary>
    public bool? GuestAgent { get; init; }
    public string? KernelVersion { get; init; }
    public string? KernelPackage { get; init; }
    public string? Distribution { get; init; }
    public IReadOnlyList<string>? Packages { get; init; }
    public int? DiskSizeGiB { get; init; }
    public bool? HasGuestAgent { get; init; }
    public bool? HasSsh { get; init; }
    /// <summary>Reads the NoCloud seed (a disk labelled cidata) at first boot.</summary>
    public bool? ReadsNoCloudSeed { get; init; }
    /// <summary>The version of a disk a rebuild keeps (tiny); absent when every build makes a new disk.</summary>
    public int? DiskVersion { get; init; }
    public string? RecipeHash { get; init; }
    public string? Built { get; init; }
    public string? BuiltBy { get; init; }

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static BuiltImageManifest? TryRead(string folder)
    {
        var path = Path.Combine(folder, "image.json");
        try { return File.Exists(path) ? JsonSerializer.Deserialize<BuiltImageManifest>(File.ReadAllText(path), Options) : null; }
        catch (JsonException) { return null; }
        catch (IOException) { return null; }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Options) + "\n";
}
