using System.Collections;
using System.Management.Automation.Runspaces;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// One host of the fleet as Connect-MyVmHost recorded it: how to reach it over SSH (kept, so a
/// dropped session can be opened again the same way) and its PowerShell session, if open.
/// </summary>
public sealed class VmHostConnection
{
    public required string Name { get; init; }
    public required string HostName { get; init; }
    public string? UserName { get; init; }
    public int? Port { get; init; }
    public string? KeyFilePath { get; init; }
    /// <summary>ssh -o options (StrictHostKeyChecking, UserKnownHostsFile, ConnectTimeout...), as New-PSSession -Options takes them.</summary>
    public Hashtable? SshOptions { get; init; }
    /// <summary>The memory placement may hand out on this host; null: the host's own memory.</summary>
    public long? MemoryCapacityMiB { get; set; }

    /// <summary>The PSSession object (System.Management.Automation.Runspaces.PSSession); null for localhost or before the first open.</summary>
    public PSSession? Session { get; set; }
    public string? ModuleVersion { get; set; }

    /// <summary>This machine: no session, the cmdlets run in-process.</summary>
    public bool IsLocal { get; init; }

    /// <summary>
    /// A session runs one command at a time: commands for this host from several invocations at
    /// once (a background job's and the console's) take turns here instead of failing as busy.
    /// </summary>
    public SemaphoreSlim Turn { get; } = new(1, 1);

    public bool IsOpen => Session?.Runspace.RunspaceStateInfo.State == RunspaceState.Opened;

    /// <summary>user@host:port, for messages.</summary>
    public string Address => $"{(UserName is null ? "" : UserName + "@")}{HostName}{(Port is null ? "" : ":" + Port)}";
}
