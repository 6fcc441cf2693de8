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
    /// <summary>Host name, SSH keys and user-data for the NoCloud seed (null: no seed disk).</summary>
    public FirstBoot.FirstBootSettings? FirstBoot { get; init; }
    /// <summary>User network: the host port on 127.0.0.1 forwarded to the guest's port 22 (0: pick a free one).</summary>
    public int? SshPort { get; init; }
    /// <summary>The engine that runs the VM: "qemu" or "cloud-hypervisor".</summary>
    public string Hypervisor { get; init; } = Hypervisors.Qemu.QemuDriver.DriverName;
    /// <summary>TCG's translation buffer in MiB (null: the module's default; 0: QEMU's own).</summary>
    public int? TranslationCacheMiB { get; init; }
    /// <summary>A free page reporting balloon under TCG (null: the module's default; false: none, as QEMU's defaults).</summary>
    public bool? FreePageReporting { get; init; }
}
