using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Clones a stopped VM under a new name: a full copy of its disk, or (-Linked) an overlay on a
/// frozen copy. A transaction: a failed or interrupted copy leaves nothing of the new VM.
/// </summary>
[Cmdlet(VerbsCommon.Copy, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmInfo))]
public sealed class CopyMyVmCommand : MyHypervisorCmdlet
{
    private readonly List<string> sources = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>The new VM's name (a literal, as for New-MyVm). Checked by the name rules, so a missing one is InvalidVmName.</summary>
    [Parameter(Position = 1)]
    [AllowEmptyString]
    public string NewName { get; set; } = string.Empty;

    /// <summary>An overlay on a frozen copy of the source's disk instead of a plain copy.</summary>
    [Parameter]
    public SwitchParameter Linked { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void BeginLocalProcessing()
    {
        base.BeginLocalProcessing();   // MYHV_HOME is checked before anything in it is trusted
        Manager.RecoverInterruptedOperations(CreateContext());
    }

    protected override void ProcessLocalRecord()
    {
        foreach (var name in ResolveNames(Name))
            if (!sources.Contains(name)) sources.Add(name);
    }

    protected override void EndLocalProcessing()
    {
        // One new name takes one source: a pattern that reaches several VMs is refused before anything is made.
        if (sources.Count > 1)
            ThrowVmError(new MyHvException(MyHvErrorKind.InvalidVmName,
                $"Copy-MyVm makes one VM named '{NewName}', but {sources.Count} VMs were given ({string.Join(", ", sources)}). Name one source.", NewName), NewName);
        foreach (var name in sources)
        {
            if (!ShouldProcess($"VM '{name}'", $"Copy to '{NewName}'{(Linked ? " (linked)" : "")}")) continue;
            TryForVm(name, () =>
            {
                var vm = Manager.Copy(name, NewName, Linked, CreateContext(new ProgressReporter(this, "Copy-MyVm", 1).Report));
                if (PassThru) WriteObject(vm);
            });
        }
        base.EndLocalProcessing();
    }
}
