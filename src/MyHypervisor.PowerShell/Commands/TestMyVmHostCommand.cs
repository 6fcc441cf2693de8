using System.Management.Automation;
using MyHypervisor.Core.Host;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Checks what this host offers for running VMs; one object per check, with a remedy for each failure.</summary>
[Cmdlet(VerbsDiagnostic.Test, "MyVmHost")]
[OutputType(typeof(HostCheck), typeof(bool))]
public sealed class TestMyVmHostCommand : MyHypervisorCmdlet
{
    /// <summary>Returns a single $true or $false: whether every check passed.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Reports; never refuses: an unsafe MYHV_HOME does not stop the host check.</summary>
    protected override bool RequiresSafeHome => false;

    protected override void EndLocalProcessing()
    {
        var checks = new HostInspector(Manager.Paths).Inspect(WriteVerbose);
        if (Quiet) WriteObject(checks.All(c => c.Ok));
        else WriteObject(checks, enumerateCollection: true);
        base.EndLocalProcessing();
    }
}
