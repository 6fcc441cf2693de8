using MyHypervisor.Core.Ledger;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>
/// The boundary between the lifecycle logic and one hypervisor engine (QEMU over QMP today;
/// Cloud Hypervisor over its REST socket later). A driver launches, answers its API, stops and
/// counts; everything transactional (ledger, state, liveness) stays outside it.
/// </summary>
public interface IHypervisorDriver
{
    /// <summary>The name recorded in a VM's definition ("qemu").</summary>
    string Name { get; }

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
}

/// <summary>How to reach a running hypervisor.</summary>
public sealed record HypervisorEndpoint(string ApiSocket);

public sealed record DiskCounters(long ReadBytes, long WriteBytes);

public sealed record LaunchedHypervisor(Processes.ProcessIdentity Process, HypervisorEndpoint Endpoint);
