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
    public static QmpClient Connect(string socketPath, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = 5;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
                var client = new QmpClient(socket);
                client.Handshake(deadline - DateTime.UtcNow);
                return client;
            }
            catch (Exception e) when (e is SocketException or IOException or QmpConnectionException)
            {
                socket.Dispose();
                if (DateTime.UtcNow >= deadline)
                    throw new QmpConnectionException($"cannot reach QMP at {socketPath}: {e.Message}", e);
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 50);
            }
        }
    }

    private void Handshake(TimeSpan timeout)
    {
        var greeting = ReadMessage(timeout < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : timeout);
        if (greeting["QMP"] is null) throw new QmpConnectionException("the socket did not greet with QMP");
        Execute("qmp_capabilities", null, TimeSpan.FromSeconds(5));
    }

    /// <summary>Runs a command and returns its "return" value; a QMP error becomes a <see cref="QmpException"/>.</summary>
    public JsonNode? Execute(string command, object? arguments = null, TimeSpan? timeout = null)
    {
        var id = $"myhv-{++nextId}";
        var request = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null) request["arguments"] = JsonSerializer.SerializeToNode(arguments);
        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        try { stream.Write(bytes); }
        catch (IOException e) { throw new QmpConnectionException($"QMP connection lost while sending {command}: {e.Message}", e); }

        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
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
