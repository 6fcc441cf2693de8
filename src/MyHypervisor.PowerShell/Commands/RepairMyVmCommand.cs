using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Recovers VMs after a crash: rolls back interrupted starts, tears down runs whose hypervisor
/// died, ends leftover helper processes, and reports what it removed.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(RepairResult))]
public sealed class RepairMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    /// <summary>First, copies interrupted by the death of their process are rolled back (Copy-MyVm).</summary>
    protected override void BeginLocalProcessing()
    {
        base.BeginLocalProcessing();   // MYHV_HOME is checked before anything in it is trusted
        Manager.RecoverInterruptedOperations(CreateContext());
    }

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
        {
            if (!ShouldProcess($"VM '{name}'", "Repair")) continue;
            TryForVm(name, () => WriteObject(Manager.Repair(name, context)));
        }
    }
}
