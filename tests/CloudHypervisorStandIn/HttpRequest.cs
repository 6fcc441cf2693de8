using System.Text;

namespace CloudHypervisorStandIn;

/// <summary>One HTTP/1.1 request as CH's micro_http reads it (headers, Content-Length body), and its answer.</summary>
public sealed record HttpRequest(string Method, string Path, string Body)
{
    private const int MaxHeaderBytes = 16 * 1024;
    private const int MaxBodyBytes = 1024 * 1024;

    public string Endpoint => Path.StartsWith("/api/v1/", StringComparison.Ordinal) ? Path["/api/v1/".Length..] : Path;

    public static async Task<HttpRequest?> Read(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0) return null;
            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n') break;
            if (head.Count > MaxHeaderBytes) return null;
        }
        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3) return null;
        var length = 0;
        foreach (var header in lines.Skip(1))
        {
            var colon = header.IndexOf(':');
            if (colon > 0 && header[..colon].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                int.TryParse(header[(colon + 1)..].Trim(), out length);
        }
        if (length < 0 || length > MaxBodyBytes) return null;
        var body = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await stream.ReadAsync(body.AsMemory(read));
            if (n == 0) return null;
            read += n;
        }
        return new HttpRequest(requestLine[0], requestLine[1], Encoding.UTF8.GetString(body));
    }

    public static async Task Respond(Stream stream, int status, string? body)
    {
        var reason = status switch
        {
            200 => "OK", 204 => "No Content", 400 => "Bad Request", 404 => "Not Found", 405 => "Method Not Allowed",
            _ => "Internal Server Error",
        };
        var bytes = body is null ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(body);
        var type = body is not null && body.StartsWith('{') ? "application/json" : "text/plain";
        var headerText = $"HTTP/1.1 {status} {reason}\r\nServer: Cloud Hypervisor API (stand-in)\r\nConnection: close\r\n" +
                         (status == 204 ? "" : $"Content-Type: {type}\r\nContent-Length: {bytes.Length}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(headerText));
        if (status != 204) await stream.WriteAsync(bytes);
        await stream.FlushAsync();
    }
}
