using System.Net.Sockets;
using System.Text;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Waits until the guest says it is ready: through the guest channel (a virtio-serial port whose
/// host end is a unix socket) when the VM has one, else by its readiness line on the console.
/// </summary>
public static class GuestReadiness
{
    public const string ChannelReadyMessage = "READY";

    public enum Source { Channel, Console }

    public static Source Wait(string? channelSocket, string consoleLog, string readyLine, TimeSpan timeout,
        Func<bool> hypervisorAlive, Action<TimeSpan>? tick, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        var started = DateTime.UtcNow;
        if (channelSocket is not null && File.Exists(channelSocket))
        {
            if (WaitOnChannel(channelSocket, deadline, hypervisorAlive, () => tick?.Invoke(DateTime.UtcNow - started), cancel))
                return Source.Channel;
            // Fall through to the console only when the channel vanished, not on a timeout.
            if (DateTime.UtcNow >= deadline) throw NotReady(timeout);
        }
        while (DateTime.UtcNow < deadline)
        {
            cancel.ThrowIfCancellationRequested();
            if (ConsoleLog.Contains(consoleLog, readyLine)) return Source.Console;
            if (!hypervisorAlive()) throw new InvalidOperationException("the hypervisor exited before the guest was ready");
            tick?.Invoke(DateTime.UtcNow - started);
            Thread.Sleep(100);
        }
        throw NotReady(timeout);
    }

    private static TimeoutException NotReady(TimeSpan timeout) =>
        new($"the guest did not report ready within {timeout.TotalSeconds:0} s");

    private static bool WaitOnChannel(string socketPath, DateTime deadline, Func<bool> alive, Action tick, CancellationToken cancel)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { socket.Connect(new UnixDomainSocketEndPoint(socketPath)); }
        catch (SocketException) { return false; }
        var received = new StringBuilder();
        var buffer = new byte[256];
        while (DateTime.UtcNow < deadline)
        {
            cancel.ThrowIfCancellationRequested();
            if (socket.Poll(200_000, SelectMode.SelectRead))
            {
                int n;
                try { n = socket.Receive(buffer); }
                catch (SocketException) { return false; }
                if (n == 0) return false;
                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
                if (received.ToString().Contains(ChannelReadyMessage, StringComparison.Ordinal)) return true;
            }
            else
            {
                if (!alive()) throw new InvalidOperationException("the hypervisor exited before the guest was ready");
                tick();
            }
        }
        return false;
    }
}
