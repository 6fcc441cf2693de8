using System.Management.Automation;
using MyHypervisor.Core.Orphans;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Lists what runs or lies around for VMs whose record is gone (processes, TAP devices, mounts,
/// helper lock files, runtime folders, temporary files), found from the artifacts themselves.
/// Read-only: Repair-MyVm -Orphans removes them.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MyVmOrphan")]
[OutputType(typeof(VmOrphan))]
public sealed class GetMyVmOrphanCommand : MyHypervisorCmdlet
{
    /// <summary>Also lists processes and TAP devices of other homes (only reported: nothing here ever removes them).</summary>
    [Parameter]
    public SwitchParameter AllHomes { get; set; }

    /// <summary>Only orphans of these kinds.</summary>
    [Parameter]
    public OrphanKind[]? Kind { get; set; }

    protected override void EndLocalProcessing()
    {
        WriteVerbose($"Looking for artifacts with no VM record in {Manager.Paths.Home}{(AllHomes ? " and in every other home" : "")}");
        foreach (var orphan in new OrphanCensus(Manager.Paths).Find(AllHomes))
            if (Kind is null || Kind.Contains(orphan.Kind)) WriteObject(orphan);
        base.EndLocalProcessing();
    }
}
