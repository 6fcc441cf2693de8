using System.Net.Sockets;
using System.Text;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Waits until the guest says it is ready: through the guest channel (a virtio-serial port whose
/// host end is a unix socket) when the VM has one, else by its readiness line on the console.
/// </summary>
/// <remarks>
/// Both are watched at once, and the guest agent's answer too. The channel wins: the guest writes
/// READY to it right after its console line, so once the console line is there (or the agent
/// answers) the channel gets <see cref="ChannelGrace"/> to deliver. Only a channel that stays silent (a guest without the channel driver or agent)
/// or that closes falls back to the console line; a guest that never gets ready still times out.
/// </remarks>
public static class GuestReadiness
{
    public const string ChannelReadyMessage = "READY";

    /// <summary>How long the channel may lag behind the console's readiness line before the console counts.</summary>
    public static readonly TimeSpan ChannelGrace = TimeSpan.FromSeconds(5);

    public enum Source { Channel, Console, Agent }

    /// <summary>How long each look at the guest agent may take while waiting.</summary>
    private static readonly TimeSpan AgentProbeWait = TimeSpan.FromMilliseconds(150);

    /// <param name="agentSocket">The guest agent's port, when the image has an agent: its guest-ping answer counts as ready.</param>
    /// <param name="connectChannel">How the engine reaches the channel (default: a plain unix socket; CH: hybrid vsock).</param>
    public static Source Wait(string? channelSocket, string consoleLog, string readyLine, TimeSpan timeout,
        Func<bool> hypervisorAlive, Action<TimeSpan>? tick, CancellationToken cancel, string? agentSocket = null,
        Func<string, Socket?>? connectChannel = null) =>
        Wait(channelSocket, new ConsoleFollower(consoleLog, readyLine), timeout, hypervisorAlive, tick, cancel, agentSocket, connectChannel);

    /// <summary>As above, with the caller's follower of the console log (it counts what it read).</summary>
    public static Source Wait(string? channelSocket, ConsoleFollower console, TimeSpan timeout,
        Func<bool> hypervisorAlive, Action<TimeSpan>? tick, CancellationToken cancel, string? agentSocket = null,
        Func<string, Socket?>? connectChannel = null)
    {
        using var agent = agentSocket is not null && File.Exists(agentSocket) ? Guest.GuestAgentConnection.TryConnect(agentSocket) : null;
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var channel = channelSocket is not null && File.Exists(channelSocket) ? (connectChannel ?? TryConnect)(channelSocket) : null;
        // Only what is new is read (console), and only a READY-sized tail is kept (channel): a
        // guest that floods either cannot grow this process.
        var channelText = new BoundedMatcher(ChannelReadyMessage);
        var buffer = new byte[64 * 1024];
        DateTime? consoleReadyAt = null, agentReadyAt = null;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                cancel.ThrowIfCancellationRequested();
                if (channel is null) Thread.Sleep(100);
                else if (channel.Poll(100_000, SelectMode.SelectRead))
                {
                    var n = 0;
                    try { n = channel.Receive(buffer); }
                    catch (SocketException) { n = 0; }
                    if (n == 0)
                    {
                        // The channel closed: from here on only the console can tell.
                        channel.Dispose();
                        channel = null;
                    }
                    else
                    {
                        if (channelText.Feed(buffer.AsSpan(0, n))) return Source.Channel;
                    }
                }

                // The agent answers as soon as it runs, which a guest may start before it is ready
                // (the tiny image: before acpid listens), so like the console it counts only once a
                // connected channel has had its grace to bring the guest's own READY.
                if (agentReadyAt is null && agent is not null && agent.Ping(AgentProbeWait, cancel)) agentReadyAt = DateTime.UtcNow;
                if (agentReadyAt is { } answered && (channel is null || DateTime.UtcNow - answered >= ChannelGrace)) return Source.Agent;
                if (consoleReadyAt is null && console.Poll()) consoleReadyAt = DateTime.UtcNow;
                if (consoleReadyAt is { } seen && (channel is null || DateTime.UtcNow - seen >= ChannelGrace)) return Source.Console;
                if (!hypervisorAlive()) throw new InvalidOperationException("the hypervisor exited before the guest was ready");
                tick?.Invoke(DateTime.UtcNow - started);
            }
        }
        finally
        {
            channel?.Dispose();
        }
        throw new TimeoutException($"the guest did not report ready within {timeout.TotalSeconds:0} s");
    }

    /// <summary>A plain connect to a unix socket; null when nothing listens there.</summary>
    public static Socket? TryConnect(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }
}

/// <summary>
/// Finds a text in a stream of chunks while holding at most the text's length of it: the tail
/// of the previous chunk is kept so a match split across two chunks is still found.
/// </summary>
public sealed class BoundedMatcher
{
    // Bytes, not strings: a flooding guest is read through without an allocation per chunk.
    private readonly byte[] text;
    private readonly byte[] carry;
    private int carried;

    public BoundedMatcher(string text)
    {
        this.text = Encoding.Latin1.GetBytes(text);
        carry = new byte[Math.Max(0, this.text.Length - 1)];
    }

    /// <summary>Bytes held between chunks (never more than the text's length minus one).</summary>
    public int Buffered => carried;

    public bool Feed(ReadOnlySpan<byte> chunk)
    {
        if (carried > 0)
        {
            // A match across the seam: the carried tail and the chunk's first bytes.
            Span<byte> seam = stackalloc byte[carried + Math.Min(chunk.Length, carry.Length)];
            carry.AsSpan(0, carried).CopyTo(seam);
            chunk[..(seam.Length - carried)].CopyTo(seam[carried..]);
            if (seam.IndexOf(text) >= 0) { carried = 0; return true; }
        }
        if (chunk.IndexOf(text) >= 0) { carried = 0; return true; }
        var keep = carry.Length;
        if (chunk.Length >= keep)
        {
            chunk[^keep..].CopyTo(carry);
            carried = keep;
        }
        else
        {
            var drop = Math.Max(0, carried + chunk.Length - keep);
            carry.AsSpan(drop, carried - drop).CopyTo(carry);
            carried -= drop;
            chunk.CopyTo(carry.AsSpan(carried));
            carried += chunk.Length;
        }
        return false;
    }
}
