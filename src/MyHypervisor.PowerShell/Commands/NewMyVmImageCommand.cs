using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images.Building;
using MyHypervisor.Core.Images.Inventory;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Builds a Debian guest image from packages (mmdebstrap) into the per-user image folder. A
/// rebuild of the same recipe returns the image at once; -Force builds it again.
/// </summary>
[Cmdlet(VerbsCommon.New, "MyVmImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageInfo))]
public sealed class NewMyVmImageCommand : MyHypervisorCmdlet
{
    // By value too: 'a', 'b' | New-MyVmImage, as with New-MyVm.
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = string.Empty;

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
        var recipe = new ImageRecipe { Name = Name, Distribution = Distribution, ExtraPackages = Package, DiskSizeGiB = DiskSizeGiB };
        try
        {
            recipe.Validate();
            if (!ShouldProcess($"image '{Name}' ({Distribution}, {recipe.AllPackages.Count} packages, {DiskSizeGiB} GiB disk)", "Build")) return;
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
}
