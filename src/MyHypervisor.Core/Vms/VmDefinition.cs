namespace MyHypervisor.Core.Vms;

/// <summary>What a VM is: written once by New-MyVm (definition.json), read by every other command.</summary>
public sealed record VmDefinition
{
    public required string Name { get; init; }
    public required Guid Id { get; init; }
    public required string Image { get; init; }
    /// <summary>The image folder, resolved at New-MyVm so the VM keeps its image whatever the search path becomes.</summary>
    public required string ImagePath { get; init; }
    public required int Cpus { get; init; }
    public required int MemoryMiB { get; init; }
    public string Hypervisor { get; init; } = Hypervisors.Qemu.QemuDriver.DriverName;
    public VmNetwork Network { get; init; } = new();
    public IReadOnlyList<VmVolume> Volumes { get; init; } = Array.Empty<VmVolume>();
    /// <summary>Extra kernel command line text, appended after the image's own and the module's.</summary>
    public string? KernelArguments { get; init; }
    /// <summary>Given to the guest at start on a NoCloud seed disk (null: none).</summary>
    public FirstBoot.FirstBootSettings? FirstBoot { get; init; }
    /// <summary>
    /// TCG's translation buffer in MiB (QEMU's tb-size); null: the module's default
    /// (<see cref="Hypervisors.Qemu.TcgMemorySettings.DefaultTranslationCacheMiB"/>), 0: QEMU's own. Unused under KVM.
    /// </summary>
    public int? TranslationCacheMiB { get; init; }
    /// <summary>
    /// A virtio balloon with free page reporting, through which the guest hands memory it freed back
    /// to QEMU; null: the module's default (<see cref="Hypervisors.Qemu.TcgMemorySettings.DefaultFreePageReporting"/>),
    /// false: no balloon device (QEMU's default). Unused under KVM.
    /// </summary>
    public bool? FreePageReporting { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
}
