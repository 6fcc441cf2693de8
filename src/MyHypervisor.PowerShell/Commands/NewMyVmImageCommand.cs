using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images.Building;
using MyHypervisor.Core.Images.Inventory;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Builds a guest image into the per-user image folder: a Debian image from packages
/// (mmdebstrap), for direct kernel boot or as a whole disk booted by firmware, or the busybox
/// 'tiny' image (the default for the name tiny). A rebuild of the same recipe returns the image
/// at once; -Force builds it again.
/// </summary>
[Cmdlet(VerbsCommon.New, "MyVmImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageInfo))]
public sealed class NewMyVmImageCommand : MyHypervisorCmdlet
{
    // By value too: 'a', 'b' | New-MyVmImage, as with New-MyVm.
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = string.Empty;

    /// <summary>Debian (from packages) or Tiny (busybox initramfs). Default: Tiny for the name 'tiny', else Debian.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("Debian", "Tiny")]
    public string? Recipe { get; set; }

    /// <summary>DirectKernel (kernel, initrd, root disk) or WholeDisk (a partitioned disk.qcow2 with its own boot loader). Debian only.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ImageFormat Format { get; set; } = ImageFormat.DirectKernel;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("bookworm")]
    public string Distribution { get; set; } = "bookworm";

    /// <summary>Debian packages installed on top of the base set.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[] Package { get; set; } = Array.Empty<string>();

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public int DiskSizeGiB { get; set; } = 2;

    /// <summary>Build again even when an image of the same recipe exists.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessLocalRecord()
    {
        try
        {
            var recipe = MakeRecipe();
            recipe.Validate();
            if (!ShouldProcess(recipe.Describe(), "Build")) return;
            var progress = new ProgressReporter(this, ImageBuilder.Activity, 1);
            var result = ImageBuilders.Builder(Manager).Build(recipe, Force, CreateContext(progress.Report));
            WriteVerbose($"Image '{Name}': {result.Outcome} in {result.Elapsed.TotalSeconds:0} s at {result.Folder}");
            WriteObject(ImageBuilders.Inventory(Manager).List().FirstOrDefault(i => i.Path == result.Folder));
        }
        catch (MyHvException e)
        {
            // The invocation's own recipe is wrong or cannot be built: nothing was kept.
            ThrowVmError(e, Name);
        }
        catch (OperationCanceledException)
        {
            // Stopped (Ctrl+C): the build has been rolled back.
            throw new PipelineStoppedException();
        }
    }

    private IImageRecipe MakeRecipe()
    {
        var tiny = Recipe is null ? Name == TinyImageRecipe.DefaultName : Recipe == "Tiny";
        if (!tiny)
            return new DebianImageRecipe { Name = Name, Distribution = Distribution, ExtraPackages = Package, DiskSizeGiB = DiskSizeGiB, Format = Format };
        var debianOnly = new[] { nameof(Distribution), nameof(Package), nameof(DiskSizeGiB), nameof(Format) }
            .Where(MyInvocation.BoundParameters.ContainsKey).ToList();
        if (debianOnly.Count > 0)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"-{string.Join(", -", debianOnly)} apply to Debian images; the tiny recipe is fixed. Use -Recipe Debian to build a Debian image named '{Name}'.");
        return new TinyImageRecipe { Name = Name };
    }
}
