using System.Management.Automation;
using MyHypervisor.Core.Changes;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Changes a stopped VM's settings. Only the parameters given change; each new definition is
/// checked by New-MyVm's rules and written atomically, or not at all.
/// </summary>
[Cmdlet(VerbsCommon.Set, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VmInfo))]
public sealed class SetMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter]
    public int Cpus { get; set; }

    [Parameter]
    public int MemoryMiB { get; set; }

    [Parameter]
    public NetworkMode Network { get; set; }

    [Parameter]
    public string? Bridge { get; set; }

    /// <summary>An empty string clears it.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? IPAddress { get; set; }

    /// <summary>An empty string clears it.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? Gateway { get; set; }

    /// <summary>Replaces all volumes; an empty array removes them all.</summary>
    [Parameter]
    [AllowEmptyCollection]
    public VmVolume[]? Volume { get; set; }

    [Parameter]
    public VmVolume[] AddVolume { get; set; } = Array.Empty<VmVolume>();

    [Parameter]
    public string[] RemoveVolume { get; set; } = Array.Empty<string>();

    /// <summary>An empty string clears it.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? KernelArguments { get; set; }

    /// <summary>TCG's translation buffer in MiB (0: QEMU's own default); $null: back to the module's default.</summary>
    [Parameter]
    public int? TranslationCacheMiB { get; set; }

    /// <summary>The free page reporting balloon under TCG on or off; $null: back to the module's default.</summary>
    [Parameter]
    public bool? FreePageReporting { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessLocalRecord()
    {
        var bound = MyInvocation.BoundParameters;
        var change = new VmChangeRequest
        {
            Cpus = bound.ContainsKey(nameof(Cpus)) ? Cpus : null,
            MemoryMiB = bound.ContainsKey(nameof(MemoryMiB)) ? MemoryMiB : null,
            Network = bound.ContainsKey(nameof(Network)) ? Network : null,
            Bridge = Bridge,
            Address = IPAddress,
            Gateway = Gateway,
            Volumes = Volume,
            AddVolumes = AddVolume,
            RemoveVolumeTags = RemoveVolume,
            KernelArguments = KernelArguments,
            TranslationCacheMiB = TranslationCacheMiB,
            DefaultTranslationCache = bound.ContainsKey(nameof(TranslationCacheMiB)) && TranslationCacheMiB is null,
            FreePageReporting = FreePageReporting,
            DefaultFreePageReporting = bound.ContainsKey(nameof(FreePageReporting)) && FreePageReporting is null,
        };
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
        {
            TryForVm(name, () =>
            {
                var vm = Manager.Set(name, change, plan => ShouldProcess($"VM '{name}' ({plan.Describe()})", "Set"), context);
                if (vm is not null && PassThru) WriteObject(vm);
            });
        }
    }
}
