using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>
/// A QMP (QEMU Machine Protocol) client over the VM's unix API socket: greeting and capability
/// negotiation, commands matched to replies by id with a timeout each, and asynchronous events
/// kept aside when they arrive between replies.
/// </summary>
public sealed class QmpClient : IDisposable
{
    private readonly Socket socket;
    private readonly StreamReader reader;
    private readonly NetworkStream stream;
    private readonly List<JsonObject> events = new();
    private int nextId;

    private QmpClient(Socket socket)
    {
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: false);
        reader = new StreamReader(stream, Encoding.UTF8);
    }

    /// <summary>Events received so far (SHUTDOWN, POWERDOWN, ...), oldest first.</summary>
    public IReadOnlyList<JsonObject> Events => events;

    /// <summary>
    /// Connects, retrying while the socket file is missing or refuses (QEMU may not be listening
    /// yet), then reads the greeting and negotiates capabilities.
    /// </summary>
    public static QmpClient Connect(string socketPath, TimeSpan timeout, CancellationToken cancel = default) =>
        Open(socketPath, timeout, null, cancel).Client;

    /// <summary>
    /// Runs one command on a new connection (connecting as <see cref="Connect"/> does). The command
    /// is written together with the capability negotiation, so the greeting and both replies come
    /// back in one round trip instead of three: on a busy host each round trip means waiting for
    /// QEMU, then for a CPU. With <paramref name="closeAnswers"/>, QEMU closing the connection once
    /// it has greeted counts as the answer (a quit may close before it replies); null is returned.
    /// </summary>
    public static JsonNode? Call(string socketPath, string command, TimeSpan connectTimeout, TimeSpan? timeout = null,
        bool closeAnswers = false, CancellationToken cancel = default)
    {
        QmpClient client;
        string id;
        try
        {
            (client, var pending) = Open(socketPath, connectTimeout, command, cancel);
            id = pending!;
        }
        catch (QmpConnectionException e) when (closeAnswers && e.Data.Contains(GreetedKey)) { return null; }
        using (client)
        {
            try { return client.Await(command, id, timeout ?? TimeSpan.FromSeconds(10)); }
            catch (QmpConnectionException) when (closeAnswers) { return null; }
        }
    }

    private const string GreetedKey = "myhv.greeted";

    /// <summary>
    /// Connects and negotiates; with <paramref name="command"/>, also sends it right behind the
    /// negotiation and returns its pending id. The requests are written before the greeting is
    /// read: QEMU reads them once it has greeted, in order. A failure once QEMU has greeted is not
    /// retried when a command was sent (it may have run): it is thrown, marked as greeted.
    /// </summary>
    private static (QmpClient Client, string? Id) Open(string socketPath, TimeSpan timeout, string? command, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = 1;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            QmpClient? client = null;
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
                client = new QmpClient(socket);
                var capabilities = client.Send("qmp_capabilities", null);
                var id = command is null ? null : client.Send(command, null);
                client.Handshake(capabilities, deadline - DateTime.UtcNow);
                return (client, id);
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
                if (DateTime.UtcNow >= deadline)
                    throw new QmpConnectionException($"cannot reach QMP at {socketPath}: {e.Message}", e);
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 20);
            }
            catch
            {
                if (client is not null) client.Dispose(); else socket.Dispose();
                throw;
            }
        }
    }

    private bool greeted;

    private void Handshake(string capabilitiesId, TimeSpan timeout)
    {
        var greeting = ReadMessage(timeout < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : timeout);
        if (greeting["QMP"] is null) throw new QmpConnectionException("the socket did not greet with QMP");
        greeted = true;
        Await("qmp_capabilities", capabilitiesId, TimeSpan.FromSeconds(5));
    }

    /// <summary>Runs a command and returns its "return" value; a QMP error becomes a <see cref="QmpException"/>.</summary>
    public JsonNode? Execute(string command, object? arguments = null, TimeSpan? timeout = null) =>
        Await(command, Send(command, arguments), timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Writes a request and returns its id, without waiting for the reply.</summary>
    private string Send(string command, object? arguments)
    {
        var id = $"myhv-{++nextId}";
        var request = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null) request["arguments"] = JsonSerializer.SerializeToNode(arguments);
        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        try { stream.Write(bytes); }
        catch (IOException e) { throw new QmpConnectionException($"QMP connection lost while sending {command}: {e.Message}", e); }
        return id;
    }

    /// <summary>Reads until the reply with this id (events are kept aside, other replies skipped).</summary>
    private JsonNode? Await(string command, string id, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var message = ReadMessage(deadline - DateTime.UtcNow);
            if (message["event"] is not null) { events.Add(message); continue; }
            if (message["id"]?.GetValue<string>() != id) continue;
            if (message["error"] is JsonObject error)
                throw new QmpException(command, error["class"]?.GetValue<string>() ?? "GenericError", error["desc"]?.GetValue<string>() ?? "");
            return message["return"];
        }
    }

    /// <summary>Waits for an event by name (already received ones count).</summary>
    public JsonObject? WaitForEvent(string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var seen = events.FirstOrDefault(e => e["event"]?.GetValue<string>() == name);
            if (seen is not null) return seen;
            if (DateTime.UtcNow >= deadline) return null;
            try
            {
                var message = ReadMessage(deadline - DateTime.UtcNow);
                if (message["event"] is not null) events.Add(message);
            }
            catch (QmpConnectionException) { return null; }
        }
    }

    private JsonObject ReadMessage(TimeSpan timeout)
    {
        socket.ReceiveTimeout = (int)Math.Max(1, timeout.TotalMilliseconds);
        string? line;
        try { line = reader.ReadLine(); }
        catch (IOException e) { throw new QmpConnectionException($"QMP connection lost or timed out: {e.Message}", e); }
        if (line is null) throw new QmpConnectionException("QMP connection closed by QEMU");
        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw new QmpConnectionException("QMP sent a non-object message");
        }
        catch (JsonException e)
        {
            throw new QmpConnectionException($"QMP sent invalid JSON: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        stream.Dispose();
        socket.Dispose();
    }
}

/// <summary>The socket is gone, refused, closed or silent: the caller decides what that means after a liveness check.</summary>
public sealed class QmpConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>QEMU answered a command with an error.</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QMP {command} failed: {errorClass}: {description}")
{
    public string ErrorClass { get; } = errorClass;
}
