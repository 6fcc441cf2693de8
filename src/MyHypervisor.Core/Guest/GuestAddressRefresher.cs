using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// Keeps Get-MyVm's IPAddress without letting the agent slow the listing down. The addresses are
/// recorded in the run's state whenever the agent tells them anyway (Start-MyVm -Wait once the
/// guest is ready, Get-MyVmGuest). Get-MyVm itself asks only a guest whose agent has answered in
/// this run, at most once per <see cref="GuestAddressCache.MaxAge"/>, for at most <see cref="Wait"/>,
/// and never while another command holds the agent: a VM still booting, paused or without an
/// agent costs the listing nothing.
/// </summary>
public static class GuestAddressRefresher
{
    public static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(500);

    public static void Refresh(VmSession session, MyHvPaths paths, OperationContext context)
    {
        var state = session.State;
        if (state.Status != VmStatus.Running || state.GuestAgent != true) return;
        var cached = state.GuestAddresses is { } c && c.Attempt == state.Attempt ? c : null;
        if (cached?.AnsweredAt is null || DateTimeOffset.UtcNow - cached.CheckedAt < GuestAddressCache.MaxAge) return;
        string[]? addresses = null;
        try
        {
            addresses = Fetch(paths, session.Name, Wait, context.Cancel);
        }
        catch (Exception e) when (e is GuestAgentUnavailableException or GuestAgentCommandException or IOException)
        {
            context.Say($"VM '{session.Name}': its guest agent did not tell its addresses ({e.Message})");
        }
        Save(session, addresses, cached);
    }

    /// <summary>Asks the agent for the guest's routable addresses; null when another command holds the agent.</summary>
    public static string[]? Fetch(MyHvPaths paths, string name, TimeSpan wait, CancellationToken cancel)
    {
        var socket = paths.AgentSocket(name);
        if (!File.Exists(socket)) return null;
        using var agentLock = GuestAgentLock.TryAcquire(paths.RuntimeDirectory(name), TimeSpan.Zero, cancel);
        if (agentLock is null) return null;
        using var agent = GuestAgentConnection.Open(socket, wait, cancel);
        return GuestAddresses.Routable(GuestFactsReader.Interfaces(agent, cancel, wait));
    }

    /// <summary>Records addresses the agent told (null: it did not answer this time; what was known stays).</summary>
    public static void Save(VmSession session, string[]? addresses, GuestAddressCache? cached = null)
    {
        var state = session.State;
        if (state.Status != VmStatus.Running) return;
        cached ??= state.GuestAddresses is { } c && c.Attempt == state.Attempt ? c : null;
        var now = DateTimeOffset.UtcNow;
        session.Save(state with
        {
            GuestAddresses = new GuestAddressCache
            {
                Attempt = state.Attempt,
                CheckedAt = now,
                AnsweredAt = addresses is null ? cached?.AnsweredAt : now,
                Addresses = addresses ?? cached?.Addresses ?? Array.Empty<string>(),
            },
        }, durable: false);
    }
}
