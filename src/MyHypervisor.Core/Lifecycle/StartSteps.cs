namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// The steps of a start, in the order they run. Each name is the step an artifact is recorded
/// under in the start's ledger, the step a failure names (<see cref="Errors.MyHvException.FailedStep"/>,
/// which the PowerShell side turns into a hint), and the second half of its fail point
/// (<c>start.&lt;step&gt;</c>, the names the contract lists). Written here once, so none of those drifts.
/// </summary>
public static class StartSteps
{
    /// <summary>The first half of a start's fail points (a start that resumes a memory checkpoint uses "restore").</summary>
    public const string Operation = "start";

    /// <summary>Before the attempt creates anything: the checks, the journal, the state it may write back. No fail point.</summary>
    public const string Prepare = "prepare";
    public const string Storage = "storage";
    public const string RuntimeDirectory = "runtime-dir";
    /// <summary>Bridged VMs only: the TAP device.</summary>
    public const string Network = "network";
    /// <summary>VMs with volumes only: virtiofsd.</summary>
    public const string Volumes = "volumes";
    public const string GuestChannel = "guest-channel";
    /// <summary>Images with a guest agent, on engines that reach it.</summary>
    public const string GuestAgent = "guest-agent";
    /// <summary>VMs with first-boot settings only: the NoCloud seed disk.</summary>
    public const string Seed = "seed";
    public const string HypervisorLaunch = "hypervisor-launch";
    public const string ApiReady = "api-ready";
    public const string Commit = "commit";
    /// <summary>After the commit: the VM runs, and the start waits for the guest to report ready (Start-MyVm -Wait). No fail point.</summary>
    public const string Wait = "wait";
}
