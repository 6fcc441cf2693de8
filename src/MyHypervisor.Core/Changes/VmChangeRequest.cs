using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Changes;

/// <summary>
/// What Set-MyVm asks to change. A null member leaves that setting as it is; an empty string
/// clears a text setting (IPAddress, Gateway, KernelArguments).
/// </summary>
public sealed record VmChangeRequest
{
    public int? Cpus { get; init; }
    public int? MemoryMiB { get; init; }
    public NetworkMode? Network { get; init; }
    public string? Bridge { get; init; }
    public string? Address { get; init; }
    public string? Gateway { get; init; }
    /// <summary>Replaces every volume (an empty list removes them all).</summary>
    public IReadOnlyList<VmVolume>? Volumes { get; init; }
    public IReadOnlyList<VmVolume> AddVolumes { get; init; } = Array.Empty<VmVolume>();
    /// <summary>Tags of volumes to remove; a tag the VM does not have is an error.</summary>
    public IReadOnlyList<string> RemoveVolumeTags { get; init; } = Array.Empty<string>();
    public string? KernelArguments { get; init; }
    /// <summary>TCG's translation buffer in MiB (0: QEMU's own default).</summary>
    public int? TranslationCacheMiB { get; init; }
    /// <summary>Back to the module's default translation buffer (the setting is removed from the definition).</summary>
    public bool DefaultTranslationCache { get; init; }
    /// <summary>Turns the free page reporting balloon on or off (under TCG).</summary>
    public bool? FreePageReporting { get; init; }
    /// <summary>Back to the module's default for the balloon (the setting is removed from the definition).</summary>
    public bool DefaultFreePageReporting { get; init; }

    public bool IsEmpty =>
        Cpus is null && MemoryMiB is null && Network is null && Bridge is null && Address is null && Gateway is null &&
        Volumes is null && AddVolumes.Count == 0 && RemoveVolumeTags.Count == 0 && KernelArguments is null &&
        TranslationCacheMiB is null && !DefaultTranslationCache && FreePageReporting is null && !DefaultFreePageReporting;
}
