using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Stats;

/// <summary>
/// Reads a running VM's numbers: CPU and RSS from /proc/&lt;pid&gt;, disk from the hypervisor's
/// API, network from the TAP device. Called only after reconciliation said Running.
/// </summary>
public sealed class StatsCollector(Configuration.MyHvPaths paths, Func<string, IHypervisorDriver> drivers)
{
    public VmStats Collect(VmSession session)
    {
        var name = session.Name;
        var process = session.State.Hypervisor;
        var stat = process is null || !session.State.Status.IsLive() ? null : ProcFs.ReadStat(process.Pid);
        if (process is null || stat is null || !ProcessLiveness.IsAlive(process))
            throw NotRunning(name);

        DiskCounters disk;
        NetworkCounters? guestNet;
        try
        {
            var driver = drivers(session.Definition.Hypervisor);
            var endpoint = new HypervisorEndpoint(paths.ApiSocket(name));
            disk = driver.ReadDiskCounters(endpoint);
            guestNet = driver.ReadNetworkCounters(endpoint);
        }
        catch (Exception e) when (e is QmpConnectionException or QmpException or IOException)
        {
            // The socket failed: if the process died in the meantime, that is "not running", never a socket error.
            if (!ProcessLiveness.IsAlive(process)) throw NotRunning(name);
            throw new MyHvException(MyHvErrorKind.VmBusy, $"VM '{name}' is running but its hypervisor API did not answer: {e.Message}", name, e);
        }

        var (tapRx, tapTx) = session.Definition.Network.TapName is { } tap && session.Definition.Network.Mode == NetworkMode.Bridge
            ? TapDevices.Counters(tap) : (0L, 0L);
        return new VmStats
        {
            Name = name,
            Status = session.State.Status,
            Pid = process.Pid,
            // Rounded: TimeSpan's ticks turn 3.01 s into 3.0099999 otherwise (clock ticks are 1/100 s).
            CpuSeconds = Math.Round(ProcFs.TicksToTime(stat.UserTicks + stat.SystemTicks).TotalSeconds, 3),
            MemoryRssBytes = stat.RssPages * Environment.SystemPageSize,
            MemoryMiB = session.Definition.MemoryMiB,
            DiskReadBytes = disk.ReadBytes,
            DiskWriteBytes = disk.WriteBytes,
            // The engine's own counters when it has them (CH's virtio-net); else the host's TAP, which
            // transmits what the guest receives, and receives what it sends.
            NetRxBytes = guestNet?.RxBytes ?? tapTx,
            NetTxBytes = guestNet?.TxBytes ?? tapRx,
            Uptime = DateTimeOffset.UtcNow - ProcFs.StartTimeOf(process.StartTicks),
            Timestamp = DateTimeOffset.UtcNow,
        };
    }

    private static MyHvException NotRunning(string name) =>
        new(MyHvErrorKind.VmNotRunning, $"VM '{name}' is not running.", name);
}
