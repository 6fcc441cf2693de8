using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CloudHypervisorStandIn;

/// <summary>
/// The stand-in VMM: CH's REST API (/api/v1) on its unix socket, one request per connection,
/// with CH's status codes (200/204 ok, 404 VM not created, 405 wrong state, 500 error with a
/// body, 400 a body that does not parse) and its VM state machine (Created, Running, Paused,
/// Shutdown). It exits on vmm.shutdown and when the guest powers off (CH without --no-shutdown),
/// unlinking its API socket on those clean exits only; killed, it leaves the socket, as CH does.
/// Like newer CH it holds an flock on &lt;socket&gt;.lock and clears a stale socket under it.
/// NO GUEST RUNS: the "guest" prints boot lines and the image's ready line to the serial file,
/// answers the hybrid vsock readiness port, and powers off on the ACPI power button.
/// </summary>
public sealed class StandInVmm(string apiSocket, Faults faults)
{
    public const string Version = "v43.0.0-stand-in";
    private const uint ChannelPort = 1024;
    private static readonly TimeSpan GuestBootTime = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan GuestPowerOffTime = TimeSpan.FromMilliseconds(200);

    private readonly object gate = new();
    private readonly TaskCompletionSource<int> exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string state = "NotCreated";
    private JsonObject? config;
    private DateTime bootedAt;
    private Guest? guest;

    public int Run()
    {
        using var lockFile = TakeSocketLock();
        var listener = Bind(apiSocket);
        Log($"stand-in VMM {Version} (not Cloud Hypervisor) listening on {apiSocket}, pid {Environment.ProcessId}");
        _ = AcceptLoop(listener);
        var code = exit.Task.GetAwaiter().GetResult();
        // A clean exit unlinks the API socket (CH does); the lock file and the vsock socket stay.
        listener.Dispose();
        File.Delete(apiSocket);
        guest?.Stop();
        Log($"exiting with {code}");
        return code;
    }

    /// <summary>
    /// CH's PR #8325: an exclusive flock on &lt;socket&gt;.lock; a socket file found while holding it
    /// is stale (its VMM is gone) and is removed. A lock held by a live VMM refuses the start.
    /// </summary>
    private FileStream TakeSocketLock()
    {
        try
        {
            // .NET takes flock(LOCK_EX | LOCK_NB) for FileShare.None on Unix.
            return new FileStream(apiSocket + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new SocketException((int)SocketError.AddressAlreadyInUse, $"another VMM holds {apiSocket}.lock ({e.Message})");
        }
    }

    private static Socket Bind(string path)
    {
        if (File.Exists(path)) File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(16);
        return socket;
    }

    private async Task AcceptLoop(Socket listener)
    {
        while (true)
        {
            Socket client;
            try { client = await listener.AcceptAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        using var _ = client;
        using var stream = new NetworkStream(client);
        var request = await HttpRequest.Read(stream);
        if (request is null) return;
        var (status, body) = Handle(request);
        if (status == 0) { await Task.Delay(Timeout.Infinite); return; }   // hang-ping
        await HttpRequest.Respond(stream, status, body);
        if (request.Endpoint == "vmm.shutdown" && status == 204) exit.TrySetResult(0);
    }

    private (int Status, string? Body) Handle(HttpRequest request)
    {
        Log($"{request.Method} {request.Path}");
        var prefix = "/api/v1/";
        if (!request.Path.StartsWith(prefix, StringComparison.Ordinal)) return (404, "Not Found");
        var endpoint = request.Endpoint;
        var expected = endpoint is "vmm.ping" or "vm.info" or "vm.counters" ? "GET" : "PUT";
        if (!Endpoints.Contains(endpoint)) return (404, $"unknown endpoint {endpoint}");
        if (request.Method != expected) return (400, $"{request.Method} is not accepted by {endpoint}");
        if (faults.Error500.Contains(endpoint)) return (500, $"Error on {endpoint}: stand-in fault switch error-500 (an internal error of the VMM)");
        lock (gate)
        {
            return endpoint switch
            {
                "vmm.ping" => faults.HangPing ? (0, null) : (200, Ping()),
                "vmm.shutdown" => ShutdownVmm(),
                "vm.create" => Create(request.Body),
                "vm.boot" => Boot(),
                "vm.info" => state == "NotCreated" ? (404, "VM is not created") : (200, Info()),
                "vm.counters" => state == "NotCreated" ? (404, "VM is not created") : (200, Counters()),
                "vm.shutdown" => Require("Running", "Paused") ?? ShutdownVm(),
                "vm.power-button" => Require("Running") ?? PowerButton(),
                "vm.pause" => Require("Running") ?? Set("Paused"),
                "vm.resume" => Require("Paused") ?? Set("Running"),
                "vm.reboot" => Require("Running", "Paused") ?? Reboot(),
                "vm.delete" => Delete(),
                _ => (404, $"unknown endpoint {endpoint}"),
            };
        }
    }

    private static readonly HashSet<string> Endpoints = new(StringComparer.Ordinal)
    {
        "vmm.ping", "vmm.shutdown", "vm.create", "vm.boot", "vm.info", "vm.counters", "vm.shutdown", "vm.power-button",
        "vm.pause", "vm.resume", "vm.reboot", "vm.delete",
    };

    /// <summary>404 before vm.create, 405 in a state the action does not apply to, as CH documents.</summary>
    private (int, string?)? Require(params string[] states)
    {
        if (state == "NotCreated") return (404, "VM is not created");
        return states.Contains(state) ? null : (405, $"VM is {state}, not {string.Join(" or ", states)}");
    }

    private string Ping() => new JsonObject
    {
        ["build_version"] = "stand-in for tests", ["version"] = Version, ["pid"] = Environment.ProcessId, ["features"] = new JsonArray(),
    }.ToJsonString();

    private (int, string?) Create(string body)
    {
        if (state != "NotCreated") return (500, "Error creating VM: VmAlreadyCreated");
        JsonObject? parsed;
        try { parsed = JsonNode.Parse(body) as JsonObject; }
        catch (JsonException e) { return (400, $"invalid VmConfig: {e.Message}"); }
        if (parsed is null) return (400, "invalid VmConfig: not a JSON object");
        if (VmConfigRules.Check(parsed) is { } refused) return refused;
        config = parsed;
        state = "Created";
        return (204, null);
    }

    private (int, string?) Boot()
    {
        if (state == "NotCreated") return (404, "VM is not created");
        if (state is "Running" or "Paused") return (405, "VM is already booted");
        if (faults.DieAtBoot)
        {
            Log("fault switch die-at-boot: SIGKILL");
            Process.GetCurrentProcess().Kill();
        }
        if (faults.RefuseBoot)
            return (500, "Error booting VM: VmBoot(DeviceManager(CreateVirtioBlock(stand-in fault switch refuse-boot: the disk could not be opened)))");
        if (FileProblem() is { } problem) return (500, "Error booting VM: " + problem);
        try
        {
            guest = new Guest(config!, ChannelPort, Log);
        }
        catch (SocketException e)
        {
            return (500, $"Error booting VM: VmBoot(DeviceManager(CreateVirtioVsock(UnixBind({e.SocketErrorCode}))))");
        }
        catch (IOException e)
        {
            return (500, $"Error booting VM: VmBoot(DeviceManager(CreateSerialDevice({e.Message})))");
        }
        bootedAt = DateTime.UtcNow;
        state = "Running";
        guest.Boot(GuestBootTime);
        return (204, null);
    }

    /// <summary>What CH checks when it boots: the kernel and initramfs can be read, each disk opens, a qcow2 backing file is allowed.</summary>
    private string? FileProblem()
    {
        foreach (var key in new[] { "kernel", "initramfs", "firmware" })
            if (config!["payload"]?[key] is JsonValue v && v.GetValue<string>() is var path && !File.Exists(path))
                return $"LoadPayload(KernelFile({path}: No such file or directory))";
        if (config!["disks"] is JsonArray disks)
            foreach (var disk in disks)
            {
                var path = disk?["path"]?.GetValue<string>();
                if (path is null || !File.Exists(path)) return $"VmBoot(DeviceManager(Disk(OpenDisk({path}: No such file or directory))))";
                var backingAllowed = disk!["backing_files"] is JsonValue b && b.GetValue<bool>();
                if (HasQcow2BackingFile(path) && !backingAllowed)
                    return $"VmBoot(DeviceManager(Disk(QcowBackingFile({path}: backing files are disabled; set backing_files=on))))";
            }
        return null;
    }

    private static bool HasQcow2BackingFile(string path)
    {
        using var f = File.OpenRead(path);
        var header = new byte[16];
        if (f.Read(header) < 16 || header[0] != 'Q' || header[1] != 'F' || header[2] != 'I' || header[3] != 0xfb) return false;
        return header.AsSpan(8, 8).ToArray().Any(x => x != 0);
    }

    private (int, string?) PowerButton()
    {
        if (faults.IgnorePowerButton) { Log("fault switch ignore-power-button: the guest ignores ACPI"); return (204, null); }
        // The guest acts on ACPI a moment later; its power-off ends the VMM (no --no-shutdown).
        _ = Task.Run(async () =>
        {
            await Task.Delay(GuestPowerOffTime);
            lock (gate)
            {
                if (state != "Running") return;
                guest?.PowerOff();
                state = "Shutdown";
            }
            exit.TrySetResult(0);
        });
        return (204, null);
    }

    private (int, string?) ShutdownVm()
    {
        guest?.Stop();
        state = "Shutdown";
        return (204, null);
    }

    private (int, string?) ShutdownVmm()
    {
        if (state is "Running" or "Paused") guest?.Stop();
        return (204, null);
    }

    private (int, string?) Set(string next)
    {
        state = next;
        return (204, null);
    }

    private (int, string?) Reboot()
    {
        guest?.Reboot(GuestBootTime);
        state = "Running";
        return (204, null);
    }

    private (int, string?) Delete()
    {
        guest?.Stop();
        guest = null;
        config = null;
        state = "NotCreated";
        return (204, null);
    }

    private string Info() => new JsonObject
    {
        ["config"] = config?.DeepClone(),
        ["state"] = state,
        ["memory_actual_size"] = VmConfigRules.Int(config?["memory"]?["size"]) ?? 0,
    }.ToJsonString();

    /// <summary>Cumulative counters that grow while the "guest" runs: blocks read and written, network frames.</summary>
    private string Counters()
    {
        var ticks = state is "Running" or "Paused" ? (long)(DateTime.UtcNow - bootedAt).TotalMilliseconds : 0;
        var result = new JsonObject();
        if (config?["disks"] is JsonArray disks)
            foreach (var disk in disks)
                result[disk?["id"]?.GetValue<string>() ?? "_disk0"] = new JsonObject
                {
                    ["read_bytes"] = 512 * 1024 + ticks * 4096, ["write_bytes"] = ticks * 512,
                    ["read_ops"] = 128 + ticks, ["write_ops"] = ticks / 8,
                };
        if (config?["net"] is JsonArray nets)
            foreach (var net in nets)
                result[net?["id"]?.GetValue<string>() ?? "_net0"] = new JsonObject
                {
                    ["rx_bytes"] = ticks * 64, ["rx_frames"] = ticks, ["tx_bytes"] = ticks * 32, ["tx_frames"] = ticks,
                };
        return result.ToJsonString();
    }

    private static void Log(string message) => Console.Out.WriteLine($"cloud-hypervisor-stand-in: {message}");
}
