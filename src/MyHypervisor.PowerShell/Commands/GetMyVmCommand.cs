using System.Management.Automation;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Lists VMs with their real status: each one's hypervisor process is checked first.</summary>
[Cmdlet(VerbsCommon.Get, "MyVm")]
[OutputType(typeof(VmInfo))]
public sealed class GetMyVmCommand : MyHypervisorCmdlet
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
            TryForVm(name, () => WriteObject(Manager.Get(name, context)));
    }
}
