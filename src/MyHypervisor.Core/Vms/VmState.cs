using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Vms;

/// <summary>
/// What the module last recorded about a VM (state.json). Never reported as-is for a running
/// VM: the reconciler checks the recorded process first.
/// </summary>
public sealed record VmState
{
    public VmStatus Status { get; init; } = VmStatus.Stopped;
    /// <summary>The hypervisor process, with its start time so a reused pid is not taken for it.</summary>
    public ProcessIdentity? Hypervisor { get; init; }
    public string? Accelerator { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? StoppedAt { get; init; }
    /// <summary>Which rung of the stop ladder ended the last run.</summary>
    public StopMethod? StopMethod { get; init; }
    /// <summary>Why the VM is in this status (a failure, a crash, a guest power-off).</summary>
    public string? Reason { get; init; }
    /// <summary>The console's last lines when the VM failed, kept for Get-MyVm.</summary>
    public IReadOnlyList<string>? ConsoleTail { get; init; }
    /// <summary>Runtime artifacts of the current run, handed over from the start journal; Stop undoes them.</summary>
    /// <summary>The start attempt that committed this state, if it is a committed start.</summary>
    public Guid? Attempt { get; init; }
    public IReadOnlyList<ArtifactRecord> Artifacts { get; init; } = Array.Empty<ArtifactRecord>();
    /// <summary>Whether this run's image has a guest agent (recorded at start: the image may change later).</summary>
    public bool? GuestAgent { get; init; }
    /// <summary>User network: the host port of this run's SSH forward (pinned, or chosen at start).</summary>
    public int? SshPort { get; init; }
    /// <summary>The guest's addresses as its agent last reported them during this run (Get-MyVm's IPAddress).</summary>
    public Guest.GuestAddressCache? GuestAddresses { get; init; }
}
