namespace MyHypervisor.Core.Images.Inventory;

/// <summary>One guest image as Get-MyVmImage shows it.</summary>
public sealed record ImageInfo
{
    public required string Name { get; init; }
    /// <summary>The image's folder.</summary>
    public required string Path { get; init; }
    /// <summary>The search-path folder it was found in.</summary>
    public required string FoundIn { get; init; }
    public string? KernelVersion { get; init; }
    public string? Distribution { get; init; }
    /// <summary>Bytes the image's files take on disk (its sparse disk counts what is allocated).</summary>
    public long SizeBytes { get; init; }
    /// <summary>The disk's size as the guest sees it.</summary>
    public long DiskBytes { get; init; }
    public DateTimeOffset? Built { get; init; }
    public bool HasGuestAgent { get; init; }
    public bool HasSsh { get; init; }
    public bool ReadsNoCloudSeed { get; init; }
    public string? RecipeHash { get; init; }
    /// <summary>VMs (of this MYHV_HOME) defined on it.</summary>
    public IReadOnlyList<string> UsedBy { get; init; } = Array.Empty<string>();
}
