using MyHypervisor.Core.Images;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>Everything a driver needs to launch one VM, prepared by the earlier start steps.</summary>
public sealed record LaunchRequest
{
    public required VmDefinition Definition { get; init; }
    public required GuestImage Image { get; init; }
    public required string OverlayDisk { get; init; }
    public required string ConsoleLog { get; init; }
    public required string RuntimeDirectory { get; init; }
    public required string ApiSocket { get; init; }
    public required string PidFile { get; init; }
    public required string ChannelSocket { get; init; }
    /// <summary>The host end of the guest agent's port (org.qemu.guest_agent.0).</summary>
    public required string AgentSocket { get; init; }
    public required string KernelCommandLine { get; init; }
    public required string Accelerator { get; init; }
    /// <summary>
    /// When set, the serial line is also offered on this unix socket (a server the module attaches
    /// to); the console log keeps everything the guest prints either way.
    /// </summary>
    public string? ConsoleSocket { get; init; }
    /// <summary>Whose the process is: set in its environment, so it is traced to its home and VM without any file.</summary>
    public required Orphans.OwnerMark Owner { get; init; }
    /// <summary>Bridged networking: the TAP device created by the network step.</summary>
    public string? TapDevice { get; init; }
    /// <summary>One vhost-user socket per volume, served by the volume step's virtiofsd.</summary>
    public IReadOnlyList<(string Tag, string Socket)> VolumeSockets { get; init; } = Array.Empty<(string, string)>();
    /// <summary>The NoCloud seed disk (first-boot settings), attached read-only after the root disk.</summary>
    public string? SeedDisk { get; init; }
    /// <summary>User network: the port on 127.0.0.1 forwarded to the guest's SSH in this run.</summary>
    public int? SshPort { get; init; }
    /// <summary>A memory checkpoint (a snapshot tag in the overlay disk) that QEMU loads before the guest runs, instead of a boot.</summary>
    public string? LoadCheckpoint { get; init; }
}
