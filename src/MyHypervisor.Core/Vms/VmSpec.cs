namespace MyHypervisor.Core.Vms;

/// <summary>What New-MyVm asks for, before validation turns it into a <see cref="VmDefinition"/>.</summary>
public sealed record VmSpec
{
    public required string Name { get; init; }
    public string Image { get; init; } = "tiny";
    public int Cpus { get; init; } = 1;
    public int MemoryMiB { get; init; } = 256;
    public NetworkMode Network { get; init; } = NetworkMode.User;
    public string? Bridge { get; init; }
    public string? Address { get; init; }
    public string? Gateway { get; init; }
    public IReadOnlyList<VmVolume> Volumes { get; init; } = Array.Empty<VmVolume>();
    public string? KernelArguments { get; init; }
}
