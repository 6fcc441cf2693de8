using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace CloudHypervisorStandIn;

/// <summary>
/// The stand-in's pretend guest (NO VM RUNS): it writes to the serial file what a booting kernel
/// would (CH opens the file with create/truncate), then the image's ready line (read from the
/// image.json beside the kernel), and serves the hybrid vsock socket: <c>CONNECT &lt;port&gt;\n</c> is
/// answered <c>OK &lt;n&gt;\n</c> on the readiness port (then READY once booted), and closed on any
/// other port, as a guest with no listener there would. The vsock socket is left behind when the
/// VMM exits, as CH leaves it.
/// </summary>
public sealed class Guest
{
    private readonly FileStream? serial;
    private readonly Socket? vsock;
    private readonly uint channelPort;
    private readonly string? readyLine;
    private readonly Action<string> log;
    private readonly CancellationTokenSource stop = new();
    private volatile bool ready;
    private uint nextHostPort = 1u << 30;

    public Guest(JsonObject config, uint channelPort, Action<string> log)
    {
        this.channelPort = channelPort;
        this.log = log;
        if (config["serial"]?["mode"]?.GetValue<string>() == "File")
            serial = new FileStream(config["serial"]!["file"]!.GetValue<string>(), FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        readyLine = ReadyLineOf(config["payload"]?["kernel"]?.GetValue<string>());
        if (config["vsock"]?["socket"]?.GetValue<string>() is { } path)
        {
            // CH binds the vsock socket as it is: one left by an earlier run makes the boot fail (AddrInUse).
            vsock = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { vsock.Bind(new UnixDomainSocketEndPoint(path)); }
            catch { serial?.Dispose(); vsock.Dispose(); throw; }
            vsock.Listen(8);
            _ = AcceptLoop(vsock);
        }
    }

    private static string? ReadyLineOf(string? kernel)
    {
        var manifest = kernel is null ? null : Path.Combine(Path.GetDirectoryName(kernel)!, "image.json");
        if (manifest is null || !File.Exists(manifest)) return null;
        try { return JsonNode.Parse(File.ReadAllText(manifest))?["ReadyLine"]?.GetValue<string>(); }
        catch (Exception) { return null; }
    }

    public void Boot(TimeSpan bootTime)
    {
        Write("[    0.000000] cloud-hypervisor stand-in: no guest runs; these lines are written by the stand-in VMM");
        Write("[    0.000000] Command line: (stand-in)");
        _ = Task.Run(async () =>
        {
            await Task.Delay(bootTime, stop.Token);
            Write("[    0.300000] stand-in guest: userspace started");
            if (readyLine is not null) Write(readyLine);
            ready = true;
        });
    }

    public void Reboot(TimeSpan bootTime)
    {
        ready = false;
        Write("reboot: Restarting system");
        Boot(bootTime);
    }

    public void PowerOff()
    {
        Write("reboot: Power down");
        Stop();
    }

    /// <summary>
    /// The guest is gone: no more vsock answers and no more serial output. The vsock listener is
    /// not disposed, since .NET would unlink its socket file and CH leaves it behind.
    /// </summary>
    public void Stop()
    {
        stop.Cancel();
        lock (this) serial?.Dispose();
    }

    private void Write(string line)
    {
        lock (this)
        {
            if (serial is null || !serial.CanWrite) return;
            var bytes = Encoding.UTF8.GetBytes(line + "\r\n");
            serial.Write(bytes);
            serial.Flush();
        }
    }

    private async Task AcceptLoop(Socket listener)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        using var _ = client;
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < 64)
        {
            int n;
            try { n = await client.ReceiveAsync(one, SocketFlags.None, stop.Token); }
            catch (Exception) { return; }
            if (n == 0) return;
            if (one[0] == '\n') break;
            line.Append((char)one[0]);
        }
        var text = line.ToString();
        if (!text.StartsWith("CONNECT ", StringComparison.Ordinal) || !uint.TryParse(text.AsSpan(8), out var port) || port != channelPort)
        {
            log($"vsock: '{text}' refused (no guest listener on that port)");
            return;
        }
        var hostPort = Interlocked.Increment(ref nextHostPort);
        try
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"OK {hostPort}\n"), SocketFlags.None);
            while (!ready) await Task.Delay(20, stop.Token);
            await client.SendAsync(Encoding.ASCII.GetBytes("READY\n"), SocketFlags.None);
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (Exception) { }
    }
}
