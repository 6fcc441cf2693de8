using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// The VM hosts of this session, asked now (in parallel): reachable or not (with ssh's reason),
/// CPUs, memory, unallocated memory, accelerator, VMs by status, module version. 'localhost' is
/// always first. A dropped session is reopened.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MyVmHost")]
[OutputType(typeof(VmHostInfo))]
public sealed class GetMyVmHostCommand : PSCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmHostCompleter))]
    public string[] Name { get; set; } = { "*" };

    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    protected override void ProcessRecord()
    {
        var hosts = VmHostRegistry.Current.Resolve(Name, out var unknown);
        foreach (var name in unknown)
            WriteError(ErrorRecords.From(new MyHvException(MyHvErrorKind.VmHostUnreachable,
                $"VM host '{name}' is not connected. Connect-MyVmHost adds it."), name));
        if (hosts.Count == 0) return;
        // Only this machine: measured directly, no runspace work (this is also what other hosts ask their end for).
        try
        {
            foreach (var info in VmHostSurvey.Ask(hosts, ThrottleLimit, FleetDispatch.LocalVersion(this), new OperationContext(WriteVerbose), WriteVerbose))
                WriteObject(info);
        }
        catch (MyHvException e)
        {
            // This machine's own state home is unusable (MYHV_HOME unsafe): the host cannot be described.
            ThrowTerminatingError(ErrorRecords.From(e, Core.Vms.VmInfo.LocalHost));
        }
    }
}
