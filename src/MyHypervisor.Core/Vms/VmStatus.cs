namespace MyHypervisor.Core.Vms;

/// <summary>The contract's statuses. Running/Starting/Stopping are only ever reported after a liveness check.</summary>
public enum VmStatus
{
    Stopped,
    Starting,
    Running,
    Stopping,
    Failed,
}
