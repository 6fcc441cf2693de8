using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// The hosts connected in one PowerShell session (runspace): they live as long as it does, as
/// PSSessions do. The local machine, 'localhost', is always there and has no session.
/// </summary>
public sealed class VmHostRegistry
{
    private static readonly ConditionalWeakTable<Runspace, VmHostRegistry> PerRunspace = new();
    private readonly object gate = new();
    private readonly List<VmHostConnection> hosts = new()
    {
        new VmHostConnection { Name = Core.Vms.VmInfo.LocalHost, HostName = Core.Vms.VmInfo.LocalHost, IsLocal = true },
    };

    /// <summary>The registry of the runspace running the calling cmdlet (its pipeline thread).</summary>
    public static VmHostRegistry Current =>
        PerRunspace.GetValue(Runspace.DefaultRunspace ?? throw new InvalidOperationException("No runspace on this thread."), _ => new VmHostRegistry());

    /// <summary>
    /// Lets another runspace of this process (a background job's) use these hosts: the same
    /// connections and sessions, not copies, so a host reconnected there is reconnected here too.
    /// </summary>
    public void ShareWith(Runspace runspace) => PerRunspace.AddOrUpdate(runspace, this);

    public IReadOnlyList<VmHostConnection> All
    {
        get { lock (gate) return hosts.ToList(); }
    }

    public VmHostConnection Local
    {
        get { lock (gate) return hosts[0]; }
    }

    public VmHostConnection? Find(string name)
    {
        lock (gate) return hosts.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Adds a host, or replaces the one of the same name (whose session the caller closes).</summary>
    public VmHostConnection? Put(VmHostConnection host)
    {
        lock (gate)
        {
            var index = hosts.FindIndex(h => string.Equals(h.Name, host.Name, StringComparison.OrdinalIgnoreCase));
            if (index < 0) { hosts.Add(host); return null; }
            var old = hosts[index];
            hosts[index] = host;
            return old;
        }
    }

    public bool Remove(VmHostConnection host)
    {
        lock (gate) return !host.IsLocal && hosts.Remove(host);
    }

    /// <summary>
    /// Host names or patterns to hosts, in registration order, each once. A pattern that matches
    /// nothing is no error (as with Get-ChildItem); a literal name that is not connected is
    /// returned in <paramref name="unknown"/>.
    /// </summary>
    public IReadOnlyList<VmHostConnection> Resolve(IEnumerable<string> patterns, out IReadOnlyList<string> unknown)
    {
        var all = All;
        var chosen = new List<VmHostConnection>();
        var missing = new List<string>();
        foreach (var pattern in patterns)
        {
            if (WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
                chosen.AddRange(all.Where(h => wildcard.IsMatch(h.Name)));
                continue;
            }
            var host = all.FirstOrDefault(h => string.Equals(h.Name, pattern, StringComparison.OrdinalIgnoreCase));
            if (host is null) missing.Add(pattern);
            else chosen.Add(host);
        }
        unknown = missing;
        return all.Where(chosen.Contains).ToList();
    }

    /// <summary>True when the names mean this machine only, so a cmdlet runs as it always did.</summary>
    public static bool MeansLocalOnly(string[]? names) =>
        names is null || (names.Length > 0 && names.All(n => string.Equals(n, Core.Vms.VmInfo.LocalHost, StringComparison.OrdinalIgnoreCase)));
}
