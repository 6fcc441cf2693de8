using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Vms;

/// <summary>
/// What Get-MyVm and -PassThru write: a VM's definition and its reconciled status. Get-only, so
/// a script cannot mistake editing it for changing the VM. Has Name for pipeline binding.
/// </summary>
public sealed class VmInfo
{
    public VmInfo(VmDefinition definition, VmState state, IReadOnlyList<string> problems, string directory)
    {
        Name = definition.Name;
        Id = definition.Id;
        Status = state.Status;
        Hypervisor = definition.Hypervisor;
        Pid = state.Status is VmStatus.Running or VmStatus.Paused or VmStatus.Stopping or VmStatus.Starting ? state.Hypervisor?.Pid : null;
        Cpus = definition.Cpus;
        MemoryMiB = definition.MemoryMiB;
        TranslationCacheMiB = definition.TranslationCacheMiB ?? Hypervisors.Qemu.TcgMemorySettings.DefaultTranslationCacheMiB;
        FreePageReporting = definition.FreePageReporting ?? Hypervisors.Qemu.TcgMemorySettings.DefaultFreePageReporting;
        Image = definition.Image;
        Network = definition.Network.ToString();
        MacAddress = definition.Network.MacAddress;
        TapDevice = definition.Network.TapName;
        Volumes = definition.Volumes.ToArray();
        Accelerator = Pid is null ? null : state.Accelerator;
        StartedAt = Pid is null ? null : state.StartedAt;
        Uptime = StartedAt is { } started ? DateTimeOffset.UtcNow - started : null;
        // Only this run's addresses, as its guest agent last reported them.
        IPAddress = Pid is not null && state.GuestAddresses is { } cached && cached.Attempt == state.Attempt
            ? cached.Addresses.ToArray() : Array.Empty<string>();
        StoppedAt = state.StoppedAt;
        StopMethod = state.StopMethod;
        StatusReason = state.Reason;
        ConsoleTail = state.ConsoleTail?.ToArray() ?? Array.Empty<string>();
        Problems = problems.ToArray();
        CreatedAt = definition.CreatedAt;
        Path = directory;
        // The run's forward while it runs; a pinned port also when stopped (an automatic one is chosen at start).
        SshPort = definition.Network.Mode != NetworkMode.User ? null
            : Pid is not null && state.SshPort is { } runPort ? runPort
            : definition.Network.SshPort;
        SshCommand = FirstBoot.SshCommand.For(definition, SshPort);
    }

    /// <summary>User network: the port on 127.0.0.1 forwarded to the guest's SSH (null while an automatic one is not chosen: the VM is not running).</summary>
    public int? SshPort { get; }

    /// <summary>How to log in over SSH (the VM was given SSH keys): "ssh -p 2201 root@127.0.0.1", or the bridged address.</summary>
    public string? SshCommand { get; }

    public string Name { get; }
    /// <summary>
    /// The machine the VM is defined on: this one. Objects that come from another host (the
    /// cmdlets' -VmHost) carry that host's name, so a piped object acts where it came from.
    /// </summary>
    public string VmHost => LocalHost;
    /// <summary>The name of this machine among VM hosts.</summary>
    public const string LocalHost = "localhost";
    public Guid Id { get; }
    public VmStatus Status { get; }
    public string Hypervisor { get; }
    public int? Pid { get; }
    public int Cpus { get; }
    public int MemoryMiB { get; }
    /// <summary>TCG's translation buffer in MiB, the module's default applied (0: QEMU's own default; unused under KVM).</summary>
    public int TranslationCacheMiB { get; }
    /// <summary>Whether the VM gets a free page reporting balloon under TCG, the module's default applied (unused under KVM).</summary>
    public bool FreePageReporting { get; }
    public string Image { get; }
    public string Network { get; }
    public string? MacAddress { get; }
    public string? TapDevice { get; }
    public VmVolume[] Volumes { get; }
    public string? Accelerator { get; }
    public DateTimeOffset? StartedAt { get; }
    public TimeSpan? Uptime { get; }
    /// <summary>The guest's addresses (not loopback or link-local, IPv4 first) from its guest agent; empty when unknown.</summary>
    public string[] IPAddress { get; }
    public DateTimeOffset? StoppedAt { get; }
    public StopMethod? StopMethod { get; }
    /// <summary>Why the VM is in its status: a failure, a crash, a guest power-off.</summary>
    public string? StatusReason { get; }
    /// <summary>The console's last lines when the VM failed.</summary>
    public string[] ConsoleTail { get; }
    /// <summary>Things wrong with a VM that is otherwise running (a helper that died), or a busy VM.</summary>
    public string[] Problems { get; }
    public DateTimeOffset CreatedAt { get; }
    public string Path { get; }

    public override string ToString() => Name;
}
