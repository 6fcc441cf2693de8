using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using MyHypervisor.Core.Protocols;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// One connection to a VM's guest agent (qemu-ga) over the host end of its virtio-serial port.
/// The wire is QMP-style JSON, one message a line, but with no greeting and no capability
/// negotiation: instead the client synchronises with guest-sync-delimited on connect (stale
/// replies of an earlier client may still be in the pipe) and again after any timeout. Every
/// request carries an id that qemu-ga echoes, so a late reply is never taken for the next one.
/// </summary>
/// <remarks>
/// Kept apart from QmpClient, but reading lines with the same <see cref="JsonLineReader"/>: the
/// agent needs the 0xFF sentinel, a resync after a timeout and far longer lines (a command's whole
/// output comes back in one reply), and garbage on the wire is skipped, not fatal.
/// </remarks>
public sealed class GuestAgentConnection : IDisposable
{
    /// <summary>The longest reply line accepted: qemu-ga caps captured output at 16 MiB per stream, base64 grows it by 4/3.</summary>
    public const int MaxLineBytes = 64 * 1024 * 1024;
    private const byte Sentinel = 0xFF;

    private readonly Socket socket;
    private readonly string socketPath;
    private readonly JsonLineReader reader;
    private long nextId = Environment.TickCount64 & 0xFFFFFF;
    private bool needsSync = true;
    /// <summary>Every sync id sent on this connection: a late answer to an earlier one still means "in sync".</summary>
    private readonly HashSet<long> syncIds = new();

    private GuestAgentConnection(Socket socket, string socketPath)
    {
        this.socket = socket;
        this.socketPath = socketPath;
        reader = new JsonLineReader(socket, MaxLineBytes, Sentinel);
    }

    /// <summary>
    /// Connects and synchronises, resending the sync every second until the agent answers or the
    /// timeout ends (a guest that is still booting has no agent reading the port yet).
    /// </summary>
    public static GuestAgentConnection Open(string socketPath, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { socket.Connect(new UnixDomainSocketEndPoint(socketPath)); }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new GuestAgentUnavailableException($"its guest agent port cannot be reached ({Describe(e)})", e);
        }
        var connection = new GuestAgentConnection(socket, socketPath);
        try
        {
            connection.Sync(deadline, cancel);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Connects without synchronising (for <see cref="Ping"/>); null when the socket cannot be reached.</summary>
    public static GuestAgentConnection? TryConnect(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return new GuestAgentConnection(socket, socketPath);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>True when the agent answers guest-ping within <paramref name="wait"/> (synchronising first if needed).</summary>
    public bool Ping(TimeSpan wait, CancellationToken cancel = default)
    {
        try
        {
            Execute("guest-ping", null, wait, cancel);
            return true;
        }
        catch (GuestAgentUnavailableException) { return false; }
    }

    /// <summary>
    /// Runs an agent command and returns its "return" value. An agent error becomes a
    /// <see cref="GuestAgentCommandException"/>; no answer in time a <see cref="GuestAgentUnavailableException"/>
    /// (the next call resynchronises first).
    /// </summary>
    public JsonNode? Execute(string command, JsonObject? arguments, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        if (needsSync) Sync(deadline, cancel);
        var id = Send(command, arguments);
        while (true)
        {
            var message = ReadMessage(deadline, cancel) ?? throw TimedOut(command, timeout);
            if (!IsReplyTo(message, id)) continue;
            if (message["error"] is JsonObject error)
                throw new GuestAgentCommandException(command, error["class"]?.GetValue<string>() ?? "GenericError",
                    error["desc"]?.GetValue<string>() ?? "");
            return message["return"];
        }
    }

    /// <summary>Sends a command that never answers on success (guest-shutdown); an error reply within the wait is reported.</summary>
    public void ExecuteNoReply(string command, JsonObject? arguments, TimeSpan wait, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + wait;
        if (needsSync) Sync(deadline + TimeSpan.FromSeconds(2), cancel);
        var id = Send(command, arguments);
        while (DateTime.UtcNow < deadline)
        {
            JsonObject? message;
            try { message = ReadMessage(deadline, cancel); }
            catch (GuestAgentUnavailableException) { return; }   // the guest went down: what we asked for
            if (message is null) return;
            if (IsReplyTo(message, id) && message["error"] is JsonObject error)
                throw new GuestAgentCommandException(command, error["class"]?.GetValue<string>() ?? "GenericError",
                    error["desc"]?.GetValue<string>() ?? "");
        }
    }

    private GuestAgentUnavailableException TimedOut(string command, TimeSpan timeout)
    {
        needsSync = true;
        return new GuestAgentUnavailableException($"its guest agent did not answer {command} within {timeout.TotalSeconds:0.#} s");
    }

    private static bool IsReplyTo(JsonObject message, string id) =>
        message["id"] is JsonValue v && v.TryGetValue<string>(out var got) && got == id;

    /// <summary>
    /// guest-sync-delimited: everything before the agent's 0xFF sentinel is stale and skipped, and
    /// only the reply carrying one of our sync ids counts. Resent every second while unanswered.
    /// </summary>
    private void Sync(DateTime deadline, CancellationToken cancel)
    {
        var ids = syncIds;
        var started = DateTime.UtcNow;
        while (true)
        {
            var id = ++nextId;
            ids.Add(id);
            // A leading 0xFF resets the agent's parser if an earlier client left half a request.
            var request = new JsonObject { ["execute"] = "guest-sync-delimited", ["arguments"] = new JsonObject { ["id"] = id } };
            Write(new[] { Sentinel }.Concat(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n")).ToArray(), "guest-sync-delimited");
            var resend = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            reader.DiscardUntilReset();
            while (true)
            {
                var wait = resend < deadline ? resend : deadline;
                var message = ReadMessage(wait, cancel);
                if (message is null) break;
                if (message["return"] is JsonValue r && r.TryGetValue<long>(out var got) && ids.Contains(got))
                {
                    needsSync = false;
                    return;
                }
            }
            if (DateTime.UtcNow >= deadline)
            {
                needsSync = true;
                throw new GuestAgentUnavailableException(
                    $"its guest agent did not answer within {(deadline - started).TotalSeconds:0.#} s " +
                    "(the guest may still be booting, or its image runs no agent)");
            }
        }
    }

    private string Send(string command, JsonObject? arguments)
    {
        var id = $"myhv-{++nextId}";
        var request = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null) request["arguments"] = arguments;
        Write(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"), command);
        return id;
    }

    private void Write(byte[] bytes, string command)
    {
        try { socket.Send(bytes); }
        catch (SocketException e)
        {
            throw new GuestAgentUnavailableException($"the connection to its guest agent was lost while sending {command} ({Describe(e)})", e);
        }
    }

    /// <summary>The next message, or null when the deadline passed first (a partial line is kept for the next read).</summary>
    private JsonObject? ReadMessage(DateTime deadline, CancellationToken cancel)
    {
        while (true)
        {
            JsonLineRead read;
            try { read = reader.Read(deadline, cancel); }
            catch (SocketException e)
            {
                throw new GuestAgentUnavailableException($"the connection to its guest agent was lost ({Describe(e)})", e);
            }
            switch (read.Outcome)
            {
                case JsonLineOutcome.Message:
                    return read.Message;
                case JsonLineOutcome.NotAnObject:
                    continue;   // Garbage on the wire (a previous client's leftovers): not ours, resync on the next call.
                case JsonLineOutcome.Closed:
                    throw new GuestAgentUnavailableException("the hypervisor closed its guest agent port (the VM may have stopped)");
                case JsonLineOutcome.TooLong:
                    needsSync = true;
                    throw new GuestAgentUnavailableException($"its guest agent sent a reply longer than {MaxLineBytes / (1024 * 1024)} MiB");
                case JsonLineOutcome.TimedOut:
                default:
                    return null;
            }
        }
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.AddressNotAvailable or SocketError.HostNotFound => "no such socket",
        SocketError.ConnectionReset => "connection reset",
        SocketError.Shutdown => "connection shut down",
        _ => e.SocketErrorCode.ToString(),
    };

    public override string ToString() => $"guest agent at {socketPath}";

    public void Dispose()
    {
        socket.Dispose();
        reader.Dispose();
    }
}

/// <summary>The agent cannot be reached or did not answer in time; the message says why (no raw socket text).</summary>
public sealed class GuestAgentUnavailableException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>The agent answered a command with an error.</summary>
public sealed class GuestAgentCommandException(string command, string errorClass, string description)
    : Exception($"{command} failed: {description}")
{
    public string Command { get; } = command;
    public string ErrorClass { get; } = errorClass;
    public string Description { get; } = description;
}
