using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Host;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Asks hosts what they have (Get-MyVmHost, placement): this machine measures itself; every other
/// host runs its own Get-MyVmHost localhost in its session, all in parallel.
/// </summary>
public static class VmHostSurvey
{
    /// <summary>Sessions are (re)opened first, on the calling (pipeline) thread; the questions then go out in parallel.</summary>
    public static IReadOnlyList<VmHostInfo> Ask(IReadOnlyList<VmHostConnection> hosts, int throttleLimit, string localVersion,
        OperationContext context, Action<string> narrate)
    {
        var reasons = new Dictionary<VmHostConnection, string>();
        foreach (var host in hosts.Where(h => !h.IsLocal && !h.IsOpen))
        {
            narrate($"VM host '{host.Name}': the session is {(host.Session is null ? "not open" : VmHostSessions.BrokenReason(host))}; reconnecting to {host.Address}");
            try { VmHostSessions.Open(host, localVersion); }
            catch (MyHvException e) { reasons[host] = e.Message; }
        }
        var answers = new VmHostInfo[hosts.Count];
        var local = hosts.Select((h, i) => (h, i)).Where(p => p.h.IsLocal).ToList();
        Parallel.ForEach(Enumerable.Range(0, hosts.Count).Where(i => !hosts[i].IsLocal),
            new ParallelOptions { MaxDegreeOfParallelism = throttleLimit },
            i => answers[i] = AskRemote(hosts[i], reasons));
        foreach (var (host, i) in local)
            answers[i] = VmHostInfo.FromResources(host, HostResources.Measure(VmManager.FromEnvironment(), context), localVersion);
        return answers;
    }

    private static VmHostInfo AskRemote(VmHostConnection host, IReadOnlyDictionary<VmHostConnection, string> reasons)
    {
        if (reasons.TryGetValue(host, out var reason)) return VmHostInfo.Unreachable(host, reason);
        try
        {
            var answer = VmHostSessions.Run(host, $"{VmHostSessions.ModuleName}\\Get-MyVmHost", new() { ["Name"] = Core.Vms.VmInfo.LocalHost })
                .FirstOrDefault();
            return answer is null ? VmHostInfo.Unreachable(host, "the host did not describe itself") : VmHostInfo.FromRemote(host, answer);
        }
        catch (Exception e) when (e is RuntimeException or InvalidOperationException)
        {
            var why = host.IsOpen ? VmHostSessions.OneLine(e.Message) : VmHostSessions.BrokenReason(host) + ". The next command reconnects.";
            return VmHostInfo.Unreachable(host, VmHostSessions.Unreachable(host, why).Message);
        }
    }
}
