namespace MyHypervisor.Core.Stats;

/// <summary>
/// One sample of a running VM's resource use. Network counters are from the VM's point of view:
/// NetRxBytes is what the guest received (the TAP's transmit counter on the host).
/// </summary>
public sealed class VmStats
{
    public required string Name { get; init; }
    /// <summary>The machine the sample is from: this one. Objects from another host carry that host's name instead.</summary>
    public string VmHost => Vms.VmInfo.LocalHost;
    public required Vms.VmStatus Status { get; init; }
    public required int Pid { get; init; }
    public required double CpuSeconds { get; init; }
    public required long MemoryRssBytes { get; init; }
    public required int MemoryMiB { get; init; }
    public required long DiskReadBytes { get; init; }
    public required long DiskWriteBytes { get; init; }
    public required long NetRxBytes { get; init; }
    public required long NetTxBytes { get; init; }
    public required TimeSpan Uptime { get; init; }
    public required DateTimeOffset Timestamp { get; init; }

    public override string ToString() => Name;
}
