using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Deletes guest images; one that a VM uses is refused unless -Force.</summary>
[Cmdlet(VerbsCommon.Remove, "MyVmImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveMyVmImageCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>Remove it even while VMs use it (they cannot start again), and do not ask.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessLocalRecord()
    {
        var inventory = ImageBuilders.Inventory(Manager);
        foreach (var image in ImageBuilders.Match(this, Name))
        {
            var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) ? ((SwitchParameter)w).IsPresent
                : GetVariableValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;
            if (!(Force && !whatIf) && !ShouldProcess($"image '{image.Name}' at {image.Path}", "Remove")) continue;
            try { inventory.Remove(image, Force); }
            catch (MyHvException e) { WriteVmError(e, image.Name); }
        }
    }
}
