using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// The stop ladder's rung for a guest that ignored the power button: ask its agent for
/// guest-shutdown (powerdown). qemu-ga sends no reply when it works, so "sent without an error
/// reply" is success; the ladder then waits for the hypervisor to exit.
/// </summary>
public static class GuestAgentShutdown
{
    private static readonly TimeSpan SyncWait = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan ErrorWait = TimeSpan.FromMilliseconds(500);

    public static bool Request(string name, string agentSocket, OperationContext context)
    {
        if (!File.Exists(agentSocket)) return false;
        context.Say($"VM '{name}': the guest ignored the power button; asking its guest agent for guest-shutdown");
        context.Report(name, $"Stopping VM '{name}'", "Asking the guest agent to shut down", 50);
        try
        {
            var runtime = Path.GetDirectoryName(agentSocket)!;
            using var agentLock = GuestAgentLock.TryAcquire(runtime, TimeSpan.FromSeconds(1), context.Cancel);
            if (agentLock is null)
            {
                context.Say("  its guest agent is busy with another command; next rung");
                return false;
            }
            using var agent = GuestAgentConnection.Open(agentSocket, SyncWait, context.Cancel);
            agent.ExecuteNoReply("guest-shutdown", new System.Text.Json.Nodes.JsonObject { ["mode"] = "powerdown" }, ErrorWait, context.Cancel);
            return true;
        }
        catch (Exception e) when (e is GuestAgentUnavailableException or GuestAgentCommandException or IOException)
        {
            context.Say($"  the guest agent did not take the request ({e.Message}); next rung");
            return false;
        }
    }
}
