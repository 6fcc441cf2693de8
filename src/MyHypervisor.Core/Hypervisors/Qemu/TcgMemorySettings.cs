using System.Globalization;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>
/// QEMU settings that lower a TCG guest's memory, chosen from measurements here (bench/Density.ps1,
/// bench/results.md). A ready 'tiny' guest (128 MiB) under QEMU's defaults had ~225 MiB RSS:
/// ~120 MiB guest RAM the guest itself had touched while booting, ~55-60 MiB translation buffer
/// (QEMU 7.2 reserves 1 GiB for translated code and backs what it fills with transparent huge
/// pages; it never gives any back), the rest QEMU's own code, its copy of the kernel and heaps.
/// A 32 MiB buffer holds what that boot translates with at most one flush: the same boot CPU time
/// as QEMU's default, ~30 MiB less per VM. 16 MiB saved ~45 MiB but cost 10-40% more boot CPU time
/// (the buffer fills and is retranslated several times), 8 MiB more still. Under KVM there is no
/// translation buffer and nothing changes.
/// Guest RAM a guest touched stays with QEMU unless the guest hands it back: a virtio balloon with
/// free page reporting lets the guest's balloon driver report pages it freed, which QEMU then
/// discards. 'tiny' loads the driver and lowers the reporting order so that a 128 MiB guest reports
/// at all (TinyGuest/init); its ready VM went from ~203 to ~158 MiB RSS. QEMU's defaults have no
/// balloon, and KVM's command line keeps them.
/// </summary>
public static class TcgMemorySettings
{
    /// <summary>The translation buffer a VM gets when its definition does not name one.</summary>
    public const int DefaultTranslationCacheMiB = 32;
    /// <summary>The setting's value that means "QEMU's own default" (no tb-size option).</summary>
    public const int QemuDefault = 0;
    public const int MinTranslationCacheMiB = 4, MaxTranslationCacheMiB = 2048;
    /// <summary>Whether a VM whose definition does not say gets the free page reporting balloon under TCG.</summary>
    public const bool DefaultFreePageReporting = true;
    /// <summary>The balloon device: no target size is ever set, it only carries the guest's free page reports.</summary>
    public const string BalloonDevice = "virtio-balloon-pci,free-page-reporting=on";

    /// <summary>The -accel value for this VM: KVM's unchanged, TCG's with its translation buffer size.</summary>
    public static string AcceleratorOption(string accelerator, VmDefinition definition)
    {
        if (accelerator != "tcg") return accelerator;
        var size = definition.TranslationCacheMiB ?? DefaultTranslationCacheMiB;
        return size == QemuDefault ? accelerator : $"tcg,tb-size={size.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The balloon's arguments for this VM: under TCG unless the definition turns it off; never under KVM.</summary>
    public static IReadOnlyList<string> BalloonArguments(string accelerator, VmDefinition definition) =>
        accelerator == "tcg" && (definition.FreePageReporting ?? DefaultFreePageReporting)
            ? new[] { "-device", BalloonDevice }
            : Array.Empty<string>();

    /// <summary>Why a value cannot be used (null: it can).</summary>
    public static string? Problem(int? value) => value is null or QemuDefault or (>= MinTranslationCacheMiB and <= MaxTranslationCacheMiB)
        ? null
        : $"TranslationCacheMiB is {value}; use {MinTranslationCacheMiB} to {MaxTranslationCacheMiB} (MiB of translated code under TCG), or {QemuDefault} for QEMU's own default";
}
