namespace MyHypervisor.Core.Vms;

/// <summary>The contract's statuses. Running/Starting/Stopping are only ever reported after a liveness check.</summary>
public enum VmStatus
{
    Stopped,
    Starting,
    Running,
    Stopping,
    Failed,
    /// <summary>The hypervisor is alive with the guest's CPUs stopped (Suspend-MyVm); read from QMP, not only the record.</summary>
    Paused,
}

public static class VmStatusFacts
{
    /// <summary>A hypervisor process belongs to the VM now: running, or paused with its memory kept.</summary>
    public static bool IsLive(this VmStatus status) => status is VmStatus.Running or VmStatus.Paused;
}
