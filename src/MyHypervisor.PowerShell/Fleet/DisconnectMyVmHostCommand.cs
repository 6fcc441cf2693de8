using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>Closes VM hosts' sessions and forgets them. Their VMs keep running there. 'localhost' stays.</summary>
[Cmdlet(VerbsCommunications.Disconnect, "MyVmHost", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class DisconnectMyVmHostCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmHostCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        var registry = VmHostRegistry.Current;
        var hosts = registry.Resolve(Name, out var unknown);
        foreach (var host in hosts)
        {
            if (host.IsLocal)
            {
                if (Name.Any(n => !WildcardPattern.ContainsWildcardCharacters(n)))
                    WriteWarning("'localhost' is this machine: it is always a VM host and has no session to close.");
                continue;
            }
            if (!ShouldProcess($"VM host '{host.Name}' ({host.Address})", "Disconnect")) continue;
            VmHostSessions.Close(host);
            registry.Remove(host);
            WriteVerbose($"VM host '{host.Name}' disconnected; its VMs were left as they are");
        }
        foreach (var name in unknown)
            WriteError(ErrorRecords.From(new MyHvException(MyHvErrorKind.VmHostUnreachable, $"VM host '{name}' is not connected."), name));
    }
}
