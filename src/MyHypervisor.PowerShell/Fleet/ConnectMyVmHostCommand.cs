using System.Collections;
using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Adds a VM host: a PowerShell session over SSH (New-PSSession -HostName; pwsh is the sshd
/// subsystem there) with MyHypervisor imported, of the same version as here. The session lasts
/// as long as this PowerShell session and is reopened by the next command when it drops.
/// Connecting 'localhost' opens nothing: it only sets this machine's -MemoryCapacityMiB.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "MyVmHost", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmHostInfo))]
public sealed class ConnectMyVmHostCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string HostName { get; set; } = string.Empty;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? UserName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? KeyFilePath { get; set; }

    /// <summary>The name the cmdlets' -VmHost uses (default: the host name).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidatePattern(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    public string? Name { get; set; }

    /// <summary>The memory placement may hand out on this host (default: all of its memory).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 64L * 1024 * 1024)]
    public long MemoryCapacityMiB { get; set; }

    /// <summary>ssh options, as New-PSSession -Options takes them: @{ StrictHostKeyChecking = 'yes'; ConnectTimeout = 10 }.</summary>
    [Parameter]
    public Hashtable? SshOption { get; set; }

    protected override void ProcessRecord()
    {
        var registry = VmHostRegistry.Current;
        var name = Name ?? HostName;
        var localVersion = FleetDispatch.LocalVersion(this);
        long? capacity = MyInvocation.BoundParameters.ContainsKey(nameof(MemoryCapacityMiB)) ? MemoryCapacityMiB : null;
        int? port = MyInvocation.BoundParameters.ContainsKey(nameof(Port)) ? Port : null;
        if (string.Equals(name, Core.Vms.VmInfo.LocalHost, StringComparison.OrdinalIgnoreCase))
        {
            if (!string.Equals(HostName, Core.Vms.VmInfo.LocalHost, StringComparison.OrdinalIgnoreCase))
                ThrowTerminatingError(ErrorRecords.From(new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"The name 'localhost' is this machine's. Give the host at '{HostName}' another -Name."), name));
            if (!ShouldProcess("VM host 'localhost' (this machine)", $"Set placement capacity to {(capacity is null ? "its memory" : capacity + " MiB")}")) return;
            registry.Local.MemoryCapacityMiB = capacity;
            WriteVerbose($"This machine (localhost) needs no session; placement capacity {(capacity is null ? "its memory" : capacity + " MiB")}");
            WriteObject(Describe(registry.Local, localVersion));
            return;
        }
        var host = new VmHostConnection
        {
            Name = name, HostName = HostName, UserName = UserName, Port = port,
            KeyFilePath = KeyFilePath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFilePath),
            SshOptions = SshOption, MemoryCapacityMiB = capacity,
        };
        if (!ShouldProcess($"VM host '{name}' ({host.Address})", "Connect")) return;
        WriteVerbose($"Opening a PowerShell session over SSH to {host.Address} for VM host '{name}'");
        try
        {
            VmHostSessions.Open(host, localVersion);
        }
        catch (MyHvException e)
        {
            WriteError(ErrorRecords.From(e, name));
            return;
        }
        if (registry.Put(host) is { } replaced) VmHostSessions.Close(replaced);
        WriteVerbose($"VM host '{name}': session open, {VmHostSessions.ModuleName} {host.ModuleVersion} imported");
        WriteObject(Describe(host, localVersion));
    }

    private VmHostInfo Describe(VmHostConnection host, string localVersion) =>
        VmHostSurvey.Ask(new[] { host }, 1, localVersion, new OperationContext(WriteVerbose), WriteVerbose)[0];
}
