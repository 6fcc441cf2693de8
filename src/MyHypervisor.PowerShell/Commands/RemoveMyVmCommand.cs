using System.Management.Automation;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Deletes VMs with their disks. A running VM is refused unless -Force, which stops it first
/// (and, as with Remove-Item -Force, skips the confirmation prompt but never -WhatIf).
/// </summary>
[Cmdlet(VerbsCommon.Remove, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    // An empty name reaches the name rules, so it fails as InvalidVmName like any other bad name.
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>Stops a running VM first, and does not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
        {
            if (!Confirmed(name)) continue;
            TryForVm(name, () => Manager.Remove(name, Force, context));
        }
    }

    private bool Confirmed(string name)
    {
        var target = $"VM '{name}' and its disk";
        var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) ? ((SwitchParameter)w).IsPresent
            : GetVariableValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;
        if (Force && !whatIf) return true;
        return ShouldProcess(target, "Remove");
    }
}
