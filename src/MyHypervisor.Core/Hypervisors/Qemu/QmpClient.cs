using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MyHypervisor.Core.Protocols;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>
/// A QMP (QEMU Machine Protocol) client over the VM's unix API socket: greeting and capability
/// negotiation, commands matched to replies by id, and asynchronous events kept aside when they
/// arrive between replies.
/// </summary>
/// <remarks>
/// The peer is not trusted to behave: a guest can make QEMU chatty, and the socket could be
/// anything. So every call has ONE deadline for all of it (connect, greeting, negotiation, the
/// reply), checked before each wait, and never a per-receive timeout that a peer trickling one
/// byte at a time, or flooding events, could renew forever. A line longer than
/// <see cref="MaxLineBytes"/> ends the call at once (nothing is buffered past the limit), and at
/// most <see cref="MaxEvents"/> events are kept. Every failure is a <see cref="QmpConnectionException"/>
/// saying what happened and how long the call had.
/// </remarks>
public sealed class QmpClient : IDisposable
{
    /// <summary>QEMU's longest replies here (query-blockstats, query-status) are a few KiB.</summary>
    public const int MaxLineBytes = 1024 * 1024;
    /// <summary>Only the newest events are kept; nothing reads more than the last few.</summary>
    public const int MaxEvents = 256;

    private readonly Socket socket;
    private readonly string socketPath;
    private readonly JsonLineReader reader;
    private readonly List<JsonObject> events = new();
    private int nextId;
    private bool greeted;

    private QmpClient(Socket socket, string socketPath)
    {
        this.socket = socket;
        this.socketPath = socketPath;
        reader = new JsonLineReader(socket, MaxLineBytes);
    }

    /// <summary>Events received so far (SHUTDOWN, POWERDOWN, ...), oldest first, at most <see cref="MaxEvents"/>.</summary>
    public IReadOnlyList<JsonObject> Events => events;

    /// <summary>
    /// Connects, retrying while the socket file is missing or refuses (QEMU may not be listening
    /// yet), then reads the greeting and negotiates capabilities, all within <paramref name="timeout"/>.
    /// </summary>
    public static QmpClient Connect(string socketPath, TimeSpan timeout, CancellationToken cancel = default) =>
        Open(socketPath, new Deadline(timeout), null, cancel).Client;

    /// <summary>
    /// Runs one command on a new connection, the whole call (connecting as <see cref="Connect"/>
    /// does, the greeting, the negotiation and the reply) within <paramref name="timeout"/>. The
    /// command is written together with the capability negotiation, so the greeting and both
    /// replies come back in one round trip instead of three: on a busy host each round trip means
    /// waiting for QEMU, then for a CPU. With <paramref name="closeAnswers"/>, QEMU closing the
    /// connection once it has greeted counts as the answer (a quit may close before it replies);
    /// null is returned.
    /// </summary>
    public static JsonNode? Call(string socketPath, string command, TimeSpan timeout, bool closeAnswers = false, CancellationToken cancel = default)
    {
        var deadline = new Deadline(timeout);
        QmpClient client;
        string id;
        try
        {
            (client, var pending) = Open(socketPath, deadline, command, cancel);
            id = pending!;
        }
        catch (QmpConnectionException e) when (closeAnswers && e.Data.Contains(GreetedKey) && !IsTimeoutOrHostile(e)) { return null; }
        using (client)
        {
            try { return client.Await(command, id, deadline, cancel); }
            catch (QmpConnectionException e) when (closeAnswers && !IsTimeoutOrHostile(e)) { return null; }
        }
    }

    private const string GreetedKey = "myhv.greeted";

    /// <summary>Only a connection that closed counts as a quit's answer, never a deadline or a hostile line.</summary>
    private static bool IsTimeoutOrHostile(Exception e) => e.Data.Contains(TimedOutKey) || e.Data.Contains(LineTooLongKey);
    private const string TimedOutKey = "myhv.timedout";

    /// <summary>
    /// Connects and negotiates; with <paramref name="command"/>, also sends it right behind the
    /// negotiation and returns its pending id. The requests are written before the greeting is
    /// read: QEMU reads them once it has greeted, in order. A failure once QEMU has greeted is not
    /// retried when a command was sent (it may have run): it is thrown, marked as greeted.
    /// </summary>
    private static (QmpClient Client, string? Id) Open(string socketPath, Deadline deadline, string? command, CancellationToken cancel)
    {
        var delay = 1;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            QmpClient? client = null;
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
                client = new QmpClient(socket, socketPath);
                var capabilities = client.Send("qmp_capabilities", null, deadline);
                var id = command is null ? null : client.Send(command, null, deadline);
                client.Handshake(capabilities, deadline, cancel);
                return (client, id);
            }
            catch (QmpConnectionException e) when (IsTimeoutOrHostile(e))
            {
                // Out of time, or a hostile peer: retrying cannot help.
                var greeted = client?.greeted ?? false;
                if (client is not null) client.Dispose(); else socket.Dispose();
                if (greeted) e.Data[GreetedKey] = true;
                throw;
            }
            catch (Exception e) when (e is SocketException or IOException or QmpConnectionException)
            {
                var greeted = client?.greeted ?? false;
                if (client is not null) client.Dispose(); else socket.Dispose();
                if (greeted && command is not null)
                {
                    var failure = new QmpConnectionException($"QMP at {socketPath} failed after {command} was sent: {e.Message}", e);
                    failure.Data[GreetedKey] = true;
                    throw failure;
                }
                if (deadline.Passed)
                    throw TimedOut(socketPath, $"cannot reach QMP: {e.Message}", deadline, e);
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(delay, Math.Max(1, deadline.Remaining.TotalMilliseconds))));
                delay = Math.Min(delay * 2, 20);
            }
            catch
            {
                if (client is not null) client.Dispose(); else socket.Dispose();
                throw;
            }
        }
    }

    private void Handshake(string capabilitiesId, Deadline deadline, CancellationToken cancel)
    {
        var greeting = ReadMessage(deadline, "the greeting", cancel);
        if (greeting["QMP"] is null) throw new QmpConnectionException($"the socket {socketPath} did not greet with QMP");
        greeted = true;
        Await("qmp_capabilities", capabilitiesId, deadline, cancel);
    }

    /// <summary>Runs a command and returns its "return" value; a QMP error becomes a <see cref="QmpException"/>.</summary>
    public JsonNode? Execute(string command, object? arguments = null, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        var deadline = new Deadline(timeout ?? TimeSpan.FromSeconds(10));
        return Await(command, Send(command, arguments, deadline), deadline, cancel);
    }

    /// <summary>Writes a request and returns its id, without waiting for the reply.</summary>
    private string Send(string command, object? arguments, Deadline deadline)
    {
        var id = $"myhv-{++nextId}";
        var request = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null) request["arguments"] = JsonSerializer.SerializeToNode(arguments);
        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        try
        {
            // A peer that never reads fills the socket buffer: the send is bounded by the deadline too.
            socket.SendTimeout = (int)Math.Max(1, deadline.Remaining.TotalMilliseconds);
            var sent = 0;
            while (sent < bytes.Length) sent += socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            throw TimedOut(socketPath, $"could not send {command}", deadline, e);
        }
        catch (SocketException e) { throw new QmpConnectionException($"QMP connection lost while sending {command}: {e.Message}", e); }
        return id;
    }

    /// <summary>Reads until the reply with this id (events are kept aside, other replies skipped).</summary>
    private JsonNode? Await(string command, string id, Deadline deadline, CancellationToken cancel)
    {
        while (true)
        {
            // Checked on every message, not only when the socket runs dry: a flood of events never does.
            if (deadline.Passed) throw TimedOut(socketPath, $"no reply to {command}", deadline, null);
            var message = ReadMessage(deadline, $"the reply to {command}", cancel);
            if (message["event"] is not null) { KeepEvent(message); continue; }
            if (message["id"] is not JsonValue value || !value.TryGetValue<string>(out var got) || got != id) continue;
            if (message["error"] is JsonObject error)
                throw new QmpException(command, Text(error["class"]) ?? "GenericError", Text(error["desc"]) ?? "");
            return message["return"];
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private void KeepEvent(JsonObject message)
    {
        if (events.Count >= MaxEvents) events.RemoveAt(0);
        events.Add(message);
    }

    /// <summary>Waits for an event by name (already received ones count); null when it did not come in time.</summary>
    public JsonObject? WaitForEvent(string name, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = new Deadline(timeout);
        while (true)
        {
            var seen = events.FirstOrDefault(e => Text(e["event"]) == name);
            if (seen is not null) return seen;
            if (deadline.Passed) return null;
            try
            {
                var message = ReadMessage(deadline, $"the event {name}", cancel);
                if (message["event"] is not null) KeepEvent(message);
            }
            catch (QmpConnectionException) { return null; }
        }
    }

    private const string LineTooLongKey = "myhv.linetoolong";

    /// <summary>The next message; the reader holds at most <see cref="MaxLineBytes"/> of one line and waits only until the deadline.</summary>
    private JsonObject ReadMessage(Deadline deadline, string awaited, CancellationToken cancel)
    {
        JsonLineRead read;
        try { read = reader.Read(deadline.End, cancel); }
        catch (SocketException e) { throw new QmpConnectionException($"QMP connection lost while waiting for {awaited}: {e.Message}", e); }
        switch (read.Outcome)
        {
            case JsonLineOutcome.Message:
                return read.Message!;
            case JsonLineOutcome.NotAnObject:
                throw read.ParseError is { } invalid
                    ? new QmpConnectionException($"QMP sent invalid JSON: {invalid.Message}", invalid)
                    : new QmpConnectionException("QMP sent a non-object message");
            case JsonLineOutcome.Closed:
                throw new QmpConnectionException($"QMP connection closed by QEMU while waiting for {awaited}");
            case JsonLineOutcome.TooLong:
                var tooLong = new QmpConnectionException(
                    $"QMP at {socketPath} sent a line longer than {MaxLineBytes / 1024} KiB while waiting for {awaited}; the connection was dropped");
                tooLong.Data[LineTooLongKey] = true;
                throw tooLong;
            case JsonLineOutcome.TimedOut:
            default:
                throw TimedOut(socketPath, $"no complete answer ({awaited})", deadline, null);
        }
    }

    private static QmpConnectionException TimedOut(string socketPath, string what, Deadline deadline, Exception? inner)
    {
        var e = new QmpConnectionException($"QMP at {socketPath}: {what} within {deadline.Total.TotalSeconds:0.#} s", inner);
        e.Data[TimedOutKey] = true;
        return e;
    }

    public void Dispose()
    {
        reader.Dispose();
        socket.Dispose();
    }

    /// <summary>One point in time that a whole call must finish by.</summary>
    private sealed class Deadline(TimeSpan total)
    {
        private readonly DateTime end = DateTime.UtcNow + total;
        public TimeSpan Total => total;
        public DateTime End => end;
        public TimeSpan Remaining => end - DateTime.UtcNow;
        public bool Passed => DateTime.UtcNow >= end;
    }
}

/// <summary>The socket is gone, refused, closed, silent or misbehaving: the caller decides what that means after a liveness check.</summary>
public sealed class QmpConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>QEMU answered a command with an error.</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QMP {command} failed: {errorClass}: {description}")
{
    public string ErrorClass { get; } = errorClass;
}
