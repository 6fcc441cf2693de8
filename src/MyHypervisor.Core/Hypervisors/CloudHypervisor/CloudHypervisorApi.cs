using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace MyHypervisor.Core.Hypervisors.CloudHypervisor;

/// <summary>
/// Cloud Hypervisor's REST API (base path /api/v1) over its unix socket, with HttpClient: a
/// <see cref="SocketsHttpHandler.ConnectCallback"/> opens the unix socket instead of TCP, so the
/// HTTP framing (chunked bodies, keep-alive, content length) is .NET's, not hand-written.
/// </summary>
/// <remarks>
/// Every call has ONE deadline for all of it (connect, request, status line, body), so a VMM that
/// accepts and then never answers, or trickles its answer, ends the call in time. Status codes are
/// mapped as CH documents them: 200/204 ok, 404 "the VM is not created", 405 "the VM is not in a
/// state that allows this", 500 an error whose body (CH's error chain) goes into the message.
/// Every failure is a <see cref="CloudHypervisorApiException"/>, an IOException, so the callers'
/// "the API did not answer" handling covers it as it covers QMP's socket errors.
/// </remarks>
public sealed class CloudHypervisorApi
{
    /// <summary>An answer longer than this is refused: CH's longest (vm.info with a device tree) is a few KiB.</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    private readonly string socketPath;

    public CloudHypervisorApi(string socketPath) => this.socketPath = socketPath;

    public JsonNode? Get(string endpoint, TimeSpan timeout, CancellationToken cancel = default) =>
        Send(HttpMethod.Get, endpoint, null, timeout, cancel);

    public JsonNode? Put(string endpoint, TimeSpan timeout, JsonNode? body = null, CancellationToken cancel = default) =>
        Send(HttpMethod.Put, endpoint, body, timeout, cancel);

    private JsonNode? Send(HttpMethod method, string endpoint, JsonNode? body, TimeSpan timeout, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            // One request per connection: the VMM is a local peer, and a kept connection would
            // outlive the call's deadline.
            PooledConnectionLifetime = TimeSpan.Zero,
            MaxResponseHeadersLength = 64,
        };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, MaxResponseContentBufferSize = MaxResponseBytes };
        using var request = new HttpRequestMessage(method, "http://localhost/api/v1/" + endpoint);
        if (body is not null)
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        else if (method == HttpMethod.Put)
            request.Content = new ByteArrayContent(Array.Empty<byte>());
        try
        {
            using var response = client.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).GetAwaiter().GetResult();
            var text = response.Content.ReadAsStringAsync(deadline.Token).GetAwaiter().GetResult();
            return Interpret(endpoint, response.StatusCode, text);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { throw; }
        catch (OperationCanceledException e)
        {
            throw new CloudHypervisorApiException(endpoint, null, $"no answer within {timeout.TotalSeconds:0.#} s", e) { TimedOut = true };
        }
        catch (HttpRequestException e)
        {
            var cause = e.InnerException switch
            {
                SocketException s => Describe(s),
                IOException io => $"the connection failed ({io.Message})",
                _ => e.Message,
            };
            throw new CloudHypervisorApiException(endpoint, null, cause, e);
        }
    }

    private static JsonNode? Interpret(string endpoint, HttpStatusCode status, string text)
    {
        switch ((int)status)
        {
            case 200:
                try { return text.Length == 0 ? null : JsonNode.Parse(text); }
                catch (System.Text.Json.JsonException e)
                {
                    throw new CloudHypervisorApiException(endpoint, status, $"the answer is not JSON: {e.Message}", e);
                }
            case 204:
                return null;
            case 404:
                throw new CloudHypervisorApiException(endpoint, status, "the VM is not created" + Detail(text));
            case 405:
                throw new CloudHypervisorApiException(endpoint, status, "the VM is not in a state that allows it" + Detail(text));
            default:
                throw new CloudHypervisorApiException(endpoint, status, $"HTTP {(int)status}" + Detail(text));
        }
    }

    /// <summary>CH's error body (its chain of causes) is the useful part of a 500; it is cut at 2 KiB.</summary>
    private static string Detail(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length == 0) return string.Empty;
        return ": " + (trimmed.Length > 2048 ? trimmed[..2048] + "..." : trimmed);
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported => "the API socket does not exist",
        SocketError.ConnectionRefused => "nothing listens on the API socket",
        _ => e.Message,
    };
}

/// <summary>CH's API failed or answered with an error status (null when no answer came).</summary>
public sealed class CloudHypervisorApiException(string endpoint, HttpStatusCode? status, string detail, Exception? inner = null)
    : IOException($"Cloud Hypervisor API {endpoint}: {detail}", inner)
{
    public string Endpoint { get; } = endpoint;
    public HttpStatusCode? Status { get; } = status;
    public bool TimedOut { get; init; }
}
