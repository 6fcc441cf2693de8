using System.Net;
using System.Net.Sockets;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>
/// Host ports for a user-network VM's SSH forward (127.0.0.1 only). An automatic port is chosen
/// at each start, just before QEMU binds it; if another program takes it in between, QEMU fails
/// to set up the forward and the start tries another port.
/// </summary>
public static class SshPorts
{
    /// <summary>Launch attempts with a fresh automatic port before the start gives up.</summary>
    public const int AutomaticAttempts = 3;

    /// <summary>A port no one listens on now (the kernel's choice of an ephemeral port).</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>True when 127.0.0.1:<paramref name="port"/> can be bound now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>QEMU's message when a hostfwd rule cannot bind its port ("Could not set up host forwarding rule ...").</summary>
    public static bool IsForwardConflict(string qemuMessage) =>
        qemuMessage.Contains("host forwarding rule", StringComparison.OrdinalIgnoreCase);
}
