using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// Keeps Get-MyVm's IPAddress fresh without letting the agent slow the listing down: at most one
/// look per VM per <see cref="GuestAddressCache.MaxAge"/>, bounded by <see cref="Wait"/>, skipped
/// when another command holds the agent; the answer (or the miss) is saved in the run's state.
/// </summary>
public static class GuestAddressRefresher
{
    public static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(500);

    public static void Refresh(VmSession session, MyHvPaths paths, OperationContext context)
    {
        var state = session.State;
        if (state.Status != VmStatus.Running || state.GuestAgent != true) return;
        var cached = state.GuestAddresses is { } c && c.Attempt == state.Attempt ? c : null;
        if (cached is not null && DateTimeOffset.UtcNow - cached.CheckedAt < GuestAddressCache.MaxAge) return;
        var socket = paths.AgentSocket(session.Name);
        if (!File.Exists(socket)) return;

        string[]? addresses = null;
        try
        {
            using var agentLock = GuestAgentLock.TryAcquire(paths.RuntimeDirectory(session.Name), TimeSpan.Zero, context.Cancel);
            if (agentLock is null) return;   // busy with a command: keep what we have, look next time
            using var agent = GuestAgentConnection.Open(socket, Wait, context.Cancel);
            addresses = GuestAddresses.Routable(GuestFactsReader.Interfaces(agent, context.Cancel, Wait));
        }
        catch (Exception e) when (e is GuestAgentUnavailableException or GuestAgentCommandException or IOException)
        {
            context.Say($"VM '{session.Name}': its guest agent did not tell its addresses ({e.Message})");
        }
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
