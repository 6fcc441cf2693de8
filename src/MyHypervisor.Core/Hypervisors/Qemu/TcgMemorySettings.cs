using System.Globalization;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>
/// QEMU settings that lower a TCG guest's memory, chosen from measurements here (bench/Density.ps1,
/// bench/results.md): of a ready 'tiny' guest's ~225 MiB RSS under QEMU's defaults, ~55 MiB was the
/// translation buffer (QEMU 7.2 reserves 1 GiB for translated code and backs what it touches with
/// transparent huge pages), ~120 MiB guest RAM the guest itself touched, the rest QEMU's own
/// code, its copy of the kernel and heaps. A 16 MiB translation buffer holds everything that guest
/// translates while booting (no measurable boot slowdown; 8 MiB began to flush and slow it), and
/// caps that part at 16 MiB. Under KVM there is no translation buffer and nothing changes.
/// </summary>
public static class TcgMemorySettings
{
    /// <summary>The translation buffer a VM gets when its definition does not name one.</summary>
    public const int DefaultTranslationCacheMiB = 16;
    /// <summary>The setting's value that means "QEMU's own default" (no tb-size option).</summary>
    public const int QemuDefault = 0;
    public const int MinTranslationCacheMiB = 4, MaxTranslationCacheMiB = 2048;

    /// <summary>The -accel value for this VM: KVM's unchanged, TCG's with its translation buffer size.</summary>
    public static string AcceleratorOption(string accelerator, VmDefinition definition)
    {
        if (accelerator != "tcg") return accelerator;
        var size = definition.TranslationCacheMiB ?? DefaultTranslationCacheMiB;
        return size == QemuDefault ? accelerator : $"tcg,tb-size={size.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Why a value cannot be used (null: it can).</summary>
    public static string? Problem(int? value) => value is null or QemuDefault or (>= MinTranslationCacheMiB and <= MaxTranslationCacheMiB)
        ? null
        : $"TranslationCacheMiB is {value}; use {MinTranslationCacheMiB} to {MaxTranslationCacheMiB} (MiB of translated code under TCG), or {QemuDefault} for QEMU's own default";
}
