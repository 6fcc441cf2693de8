using System.Net.Sockets;
using System.Text;

namespace MyHypervisor.Core.Hypervisors.CloudHypervisor;

/// <summary>
/// Host-to-guest connections over Cloud Hypervisor's hybrid vsock (the Firecracker scheme): connect
/// to the VM's vsock unix socket, send <c>CONNECT &lt;port&gt;\n</c>, and read <c>OK &lt;host port&gt;\n</c>;
/// from then on the stream is the guest's port. Anything else (a closed connection: no guest
/// listens on the port yet) is a failed connect.
/// </summary>
public static class HybridVsock
{
    /// <summary>The longest handshake answer accepted ("OK 4294967295\n" is 14 bytes).</summary>
    private const int MaxAnswer = 32;

    /// <summary>A connected stream to the guest's <paramref name="port"/>, or null when the guest does not accept it in time.</summary>
    public static Socket? TryConnect(string socketPath, uint port, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            socket.SendTimeout = (int)Math.Max(1, timeout.TotalMilliseconds);
            socket.Send(Encoding.ASCII.GetBytes($"CONNECT {port}\n"));
            if (ReadAnswer(socket, timeout) is { } answer && answer.StartsWith("OK ", StringComparison.Ordinal)
                && uint.TryParse(answer.AsSpan(3), out _))
                return socket;
        }
        catch (SocketException) { }
        socket.Dispose();
        return null;
    }

    /// <summary>
    /// Reads the answer line one byte at a time: whatever the guest sends right after it (READY)
    /// must stay in the socket for the caller.
    /// </summary>
    private static string? ReadAnswer(Socket socket, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < MaxAnswer)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !socket.Poll((int)Math.Max(1, left.TotalMicroseconds), SelectMode.SelectRead)) return null;
            if (socket.Receive(one) == 0) return null;
            if (one[0] == (byte)'\n') return line.ToString();
            line.Append((char)one[0]);
        }
        return null;
    }
}
