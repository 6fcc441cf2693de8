using System.Management.Automation;
using MyHypervisor.Core.Images.Inventory;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Lists the guest images in the image search path (the first one of a name wins, as -Image finds it).</summary>
[Cmdlet(VerbsCommon.Get, "MyVmImage")]
[OutputType(typeof(ImageInfo))]
public sealed class GetMyVmImageCommand : MyHypervisorCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    protected override void ProcessLocalRecord()
    {
        foreach (var image in ImageBuilders.Match(this, Name)) WriteObject(image);
    }
}
