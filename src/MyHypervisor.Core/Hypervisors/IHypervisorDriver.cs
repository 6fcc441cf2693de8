using MyHypervisor.Core.Ledger;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>
/// The boundary between the lifecycle logic and one hypervisor engine (QEMU over QMP today;
/// Cloud Hypervisor over its REST socket). A driver launches, answers its API, stops and
/// counts; everything transactional (ledger, state, liveness) stays outside it.
/// </summary>
public interface IHypervisorDriver
{
    /// <summary>The name recorded in a VM's definition ("qemu", "cloud-hypervisor").</summary>
    string Name { get; }

    /// <summary>The engine's name in messages ("QEMU", "Cloud Hypervisor").</summary>
    string DisplayName { get; }

    /// <summary>The executable's file name: a recorded process is this VM's hypervisor only if it runs this program.</summary>
    string ExecutableName { get; }

    /// <summary>The whole argument on the hypervisor's command line that names this VM's run (a path in its runtime folder).</summary>
    string ProcessMarker(Configuration.MyHvPaths paths, string vm);

    /// <summary>
    /// True when the hypervisor left evidence of a crash (QEMU's pid file, CH's API socket: both
    /// are removed on a clean exit), so a dead VM is told apart from a guest that powered off.
    /// </summary>
    bool LeftCrashEvidence(Configuration.MyHvPaths paths, string vm);

    /// <summary>The host end of the guest channel (QEMU: a virtio-serial port's socket; CH: the hybrid vsock socket).</summary>
    string GuestChannelSocket(Configuration.MyHvPaths paths, string vm);

    /// <summary>A connected stream to the guest's readiness channel, or null when it cannot be reached (yet).</summary>
    System.Net.Sockets.Socket? ConnectGuestChannel(string channelSocket);

    /// <summary>
    /// Whether it has a user-mode (slirp) network, and with it the SSH port forward. Without one a
    /// VM's network is a TAP device or none, and New-MyVm's default network is none.
    /// </summary>
    bool SupportsUserNetwork { get; }

    /// <summary>Whether the guest agent (qemu-ga) is reachable on this engine.</summary>
    bool SupportsGuestAgent { get; }

    /// <summary>Whether it boots a whole-disk image through firmware (image.json "Boot": "Firmware").</summary>
    bool BootsFirmwareImages { get; }

    /// <summary>Whether it can save and load a running VM's memory (Checkpoint-MyVm, Restore-MyVmCheckpoint).</summary>
    bool SupportsMemoryCheckpoints { get; }

    /// <summary>
    /// The accelerator this engine always uses, or null when it can run either and the host's
    /// probe (AcceleratorSelector) decides; may refuse an MYHV_ACCEL it cannot honour.
    /// </summary>
    (string Accelerator, string Reason)? FixedAccelerator(string vm) => null;

    /// <summary>The executable the driver runs, or null when it is not installed.</summary>
    string? FindExecutable();

    /// <summary>
    /// Starts the hypervisor process. Every artifact it creates (the process, its pid file, its
    /// API socket) is recorded in <paramref name="transaction"/> before it exists.
    /// </summary>
    LaunchedHypervisor Launch(LaunchRequest request, StartTransaction transaction, CancellationToken cancel);

    /// <summary>Returns once the hypervisor's API answers and reports the guest running.</summary>
    void WaitUntilRunning(HypervisorEndpoint endpoint, TimeSpan timeout, CancellationToken cancel);

    /// <summary>Presses the guest's ACPI power button; the guest decides whether to power off.</summary>
    void RequestPowerOff(HypervisorEndpoint endpoint);

    /// <summary>Asks the hypervisor process to exit at once through its API.</summary>
    void Quit(HypervisorEndpoint endpoint);

    /// <summary>Stops the guest's CPUs; memory and devices stay as they are (Suspend-MyVm).</summary>
    void Pause(HypervisorEndpoint endpoint);

    /// <summary>Lets a paused guest's CPUs run again (Resume-MyVm).</summary>
    void Resume(HypervisorEndpoint endpoint);

    /// <summary>True when the guest's CPUs are stopped, false when it runs.</summary>
    bool IsPaused(HypervisorEndpoint endpoint);

    /// <summary>A hard reset of the guest in the same hypervisor process, as a reset button would (Restart-MyVm -Force).</summary>
    void Reset(HypervisorEndpoint endpoint);

    /// <summary>Cumulative block device counters.</summary>
    DiskCounters ReadDiskCounters(HypervisorEndpoint endpoint);

    /// <summary>Cumulative network counters from the guest's side, when the engine counts them (null: read the TAP device).</summary>
    NetworkCounters? ReadNetworkCounters(HypervisorEndpoint endpoint) => null;
}

/// <summary>How to reach a running hypervisor.</summary>
/// <summary>How to reach a running hypervisor; <paramref name="Pid"/> is the launched process, when the API can tell its own pid.</summary>
public sealed record HypervisorEndpoint(string ApiSocket, int? Pid = null);

public sealed record DiskCounters(long ReadBytes, long WriteBytes);

/// <summary>Bytes the guest received and sent.</summary>
public sealed record NetworkCounters(long RxBytes, long TxBytes);

public sealed record LaunchedHypervisor(Processes.ProcessIdentity Process, HypervisorEndpoint Endpoint);
