using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Hypervisors.CloudHypervisor;

/// <summary>
/// Runs VMs with Cloud Hypervisor, controlled over its REST API on a unix socket.
/// </summary>
/// <remarks>
/// The process is started with only <c>--api-socket path=&lt;run&gt;/api.sock</c>, and the VM is
/// given through <c>vm.create</c> then <c>vm.boot</c>, not on the command line:
/// <list type="bullet">
/// <item>CH's command-line values are comma-separated option lists with no escape, so a path with a
/// comma (a legal MYHV_HOME or image folder) cannot be said there; JSON carries every path verbatim.</item>
/// <item>A refused configuration or boot comes back as an HTTP status with CH's own error chain in
/// the body, which goes into the user's message, instead of a process exit with the reason only in
/// a log.</item>
/// <item>The API socket path on the command line is still a whole argument in the VM's runtime
/// folder, the marker by which a crashed start's process is found (the contract's "paths under
/// MYHV_HOME on the command line").</item>
/// </list>
/// CH does not daemonize: it is started detached by start-stop-daemon (as virtiofsd is), in a
/// session of its own, its output in the runtime folder, its pid in the pid file.
/// </remarks>
public sealed class CloudHypervisorDriver : IHypervisorDriver
{
    public const string Executable = "cloud-hypervisor";
    public const string DriverName = "cloud-hypervisor";
    private const string StartStopDaemon = "start-stop-daemon";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    /// <summary>How long the VMM may take to bring up its API after its exec.</summary>
    private static readonly TimeSpan ApiStartTimeout = TimeSpan.FromSeconds(30);

    public string Name => DriverName;
    public string ExecutableName => Executable;
    public string DisplayName => "Cloud Hypervisor";
    /// <summary>CH has no slirp: a TAP device, or no network at all.</summary>
    public bool SupportsUserNetwork => false;
    public bool SupportsGuestAgent => false;
    /// <summary>Firmware boot (rust-hypervisor-firmware) is not wired up: direct-kernel images only.</summary>
    public bool BootsFirmwareImages => false;
    /// <summary>vm.snapshot / vm.restore write a folder of their own and are not mapped yet.</summary>
    public bool SupportsMemoryCheckpoints => false;
    public (string Accelerator, string Reason)? FixedAccelerator(string vm) => CloudHypervisorAccelerator.Select(vm);

    public string? FindExecutable() => ProgramRunner.Find(Executable);

    /// <summary>The argument CH is started with: "path=" and the API socket, one whole argument.</summary>
    public string ProcessMarker(MyHvPaths paths, string vm) => ApiSocketArgument(paths.ApiSocket(vm));

    private static string ApiSocketArgument(string apiSocket) => "path=" + apiSocket;

    /// <summary>CH unlinks its API socket on a clean exit (vmm.shutdown, guest power-off); a crash or a kill leaves it.</summary>
    public bool LeftCrashEvidence(MyHvPaths paths, string vm) => File.Exists(paths.ApiSocket(vm));

    public string GuestChannelSocket(MyHvPaths paths, string vm) => paths.VsockSocket(vm);

    public Socket? ConnectGuestChannel(string channelSocket) =>
        HybridVsock.TryConnect(channelSocket, CloudHypervisorVmConfig.ChannelPort, TimeSpan.FromSeconds(2));

    /// <summary>CH's flock file beside the API socket (newer versions clear a stale socket under it).</summary>
    public static string SocketLockFile(string apiSocket) => apiSocket + ".lock";

    /// <summary>The VMM's stdout and stderr, beside its socket.</summary>
    public static string LogFile(string runtimeDirectory) => Path.Combine(runtimeDirectory, "cloud-hypervisor.log");

    public LaunchedHypervisor Launch(LaunchRequest request, StartTransaction transaction, CancellationToken cancel)
    {
        var program = FindExecutable() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            $"{Executable} is not installed (no Debian package ships it; see https://github.com/cloud-hypervisor/cloud-hypervisor/releases). See Test-MyVmHost.",
            request.Definition.Name);
        var launcher = ProgramRunner.Find(StartStopDaemon) ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "start-stop-daemon (Debian package dpkg) is not installed; it starts cloud-hypervisor detached.", request.Definition.Name);
        var vsock = Path.Combine(request.RuntimeDirectory, "vsock.sock");
        var log = LogFile(request.RuntimeDirectory);
        var marker = ApiSocketArgument(request.ApiSocket);

        // Every file CH may leave is recorded before it can exist; the process last, so it is ended first.
        var step = transaction.CurrentStep;
        foreach (var path in new[] { log, request.PidFile, request.ApiSocket, SocketLockFile(request.ApiSocket), vsock })
            transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = step, Path = path });
        var processRecord = transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.Process, Step = step, Program = program, Marker = marker });

        // CH opens the serial file itself (truncating it): each run starts a new console log.
        Lifecycle.ConsoleLog.Reset(request.ConsoleLog);
        if (File.Exists(request.PidFile)) File.Delete(request.PidFile);
        var arguments = new List<string>
        {
            "--start", "--background", "--umask", "077", "--output", log, "--chdir", "/", "--make-pidfile", "--pidfile", request.PidFile,
            "--exec", program, "--", "--api-socket", marker,
        };
        var started = ProgramRunner.Run(launcher, arguments, TimeSpan.FromSeconds(30));
        if (started.ExitCode != 0)
            throw new InvalidOperationException($"start-stop-daemon could not start {Executable} (exit {started.ExitCode}): {started.Describe()}{DetachedProcessFiles.LogTail(log)}");
        if (File.Exists(request.PidFile)) File.SetUnixFileMode(request.PidFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var identity = WaitForProcess(request.PidFile, program, marker, log, cancel);
        transaction.Update(processRecord with { Process = identity });
        var endpoint = new HypervisorEndpoint(request.ApiSocket, identity.Pid);
        var api = new CloudHypervisorApi(request.ApiSocket);
        WaitForApi(api, identity, log, cancel);
        if (File.Exists(request.ApiSocket)) File.SetUnixFileMode(request.ApiSocket, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var config = CloudHypervisorVmConfig.Build(request, vsock);
        Call(identity, log, () => api.Put("vm.create", CallTimeout, config, cancel));
        Call(identity, log, () => api.Put("vm.boot", CallTimeout, cancel: cancel));
        foreach (var path in new[] { vsock, request.ConsoleLog, log })
            if (File.Exists(path)) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new LaunchedHypervisor(identity, endpoint);
    }

    /// <summary>start-stop-daemon returns once the pid file is written; the pid execs CH right after.</summary>
    private static ProcessIdentity WaitForProcess(string pidFile, string program, string marker, string log, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (DetachedProcessFiles.ReadPidFile(pidFile) is int pid)
            {
                var executable = ProcFs.ReadExecutable(pid);
                if (executable is not null && Path.GetFileName(executable) == Path.GetFileName(program)
                    && ProcessLiveness.CarriesMarker(pid, marker) && ProcessLiveness.Identify(pid) is { } identity)
                    return identity;
                if (ProcFs.ReadStat(pid) is null or { HasExited: true })
                    throw new InvalidOperationException($"{Executable} exited at once{DetachedProcessFiles.LogTail(log)}");
            }
            Thread.Sleep(10);
        }
        cancel.ThrowIfCancellationRequested();
        throw new InvalidOperationException($"{Executable} did not start within 10 s (pid file {pidFile}){DetachedProcessFiles.LogTail(log)}");
    }

    /// <summary>
    /// Polls vmm.ping until it answers, retrying only while the socket is not there or refuses
    /// (CH is still coming up); a VMM that accepts and then does not answer within one call's
    /// deadline fails the launch, as does one that exits.
    /// </summary>
    private static void WaitForApi(CloudHypervisorApi api, ProcessIdentity process, string log, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + ApiStartTimeout;
        var delay = 5;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                CheckPid(api.Get("vmm.ping", CallTimeout, cancel), process);
                return;
            }
            catch (CloudHypervisorApiException e) when (e.Status is null && !e.TimedOut)
            {
                if (!ProcessLiveness.IsAlive(process)) throw new InvalidOperationException($"{Executable} exited before its API answered{DetachedProcessFiles.LogTail(log)}", e);
                if (DateTime.UtcNow >= deadline) throw new InvalidOperationException($"{e.Message} (for {ApiStartTimeout.TotalSeconds:0} s){DetachedProcessFiles.LogTail(log)}", e);
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 100);
            }
        }
    }

    /// <summary>The API that answers must be the process just launched: a stale socket's listener, or another VMM, is not.</summary>
    private static void CheckPid(JsonNode? ping, ProcessIdentity process)
    {
        var pid = ping?["pid"] is JsonValue v && v.TryGetValue<long>(out var p) ? p : (long?)null;
        if (pid != process.Pid)
            throw new InvalidOperationException(
                $"the API socket is answered by pid {pid?.ToString() ?? "(none given)"}, not by the {Executable} just launched ({process})");
    }

    /// <summary>
    /// A failed call of a VMM that died meanwhile says so, with its last words. A connection cut
    /// without an answer gives a dying process a moment to finish exiting before it is judged.
    /// </summary>
    private static void Call(ProcessIdentity process, string log, Action call)
    {
        try { call(); }
        catch (CloudHypervisorApiException e) when (e.Status is null && !e.TimedOut
            && ProcessTerminator.WaitForExit(process, TimeSpan.FromSeconds(2), CancellationToken.None))
        {
            throw new InvalidOperationException($"{Executable} exited during {e.Endpoint}{DetachedProcessFiles.LogTail(log)}", e);
        }
    }

    public void WaitUntilRunning(HypervisorEndpoint endpoint, TimeSpan timeout, CancellationToken cancel)
    {
        var api = new CloudHypervisorApi(endpoint.ApiSocket);
        var ping = api.Get("vmm.ping", Shorter(timeout), cancel);
        if (endpoint.Pid is { } expected)
        {
            var pid = ping?["pid"] is JsonValue v && v.TryGetValue<long>(out var p) ? p : (long?)null;
            if (pid != expected)
                throw new InvalidOperationException($"vmm.ping answered with pid {pid?.ToString() ?? "(none)"}, not the launched {Executable} (pid {expected})");
        }
        var state = State(api, Shorter(timeout), cancel);
        if (state != "Running")
            throw new InvalidOperationException($"Cloud Hypervisor reports the VM as '{state}', not Running.");
    }

    private static TimeSpan Shorter(TimeSpan timeout) => timeout < CallTimeout ? timeout : CallTimeout;

    private static string? State(CloudHypervisorApi api, TimeSpan timeout, CancellationToken cancel = default) =>
        api.Get("vm.info", timeout, cancel: cancel)?["state"] is JsonValue s && s.TryGetValue<string>(out var text) ? text : null;

    public void RequestPowerOff(HypervisorEndpoint endpoint) =>
        new CloudHypervisorApi(endpoint.ApiSocket).Put("vm.power-button", CallTimeout);

    /// <summary>
    /// vm.shutdown (the VM stops at once, without asking the guest), then vmm.shutdown (the process
    /// exits and unlinks its socket). A VM that is not booted any more answers vm.shutdown with 404
    /// or 405; the VMM is still asked to exit.
    /// </summary>
    public void Quit(HypervisorEndpoint endpoint)
    {
        var api = new CloudHypervisorApi(endpoint.ApiSocket);
        try { api.Put("vm.shutdown", CallTimeout); }
        catch (CloudHypervisorApiException e) when (e.Status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed) { }
        try { api.Put("vmm.shutdown", CallTimeout); }
        // The VMM may exit before its answer is read: the connection closing is the answer then.
        catch (CloudHypervisorApiException e) when (e.Status is null && !e.TimedOut) { }
    }

    public void Pause(HypervisorEndpoint endpoint) => new CloudHypervisorApi(endpoint.ApiSocket).Put("vm.pause", CallTimeout);

    public void Resume(HypervisorEndpoint endpoint) => new CloudHypervisorApi(endpoint.ApiSocket).Put("vm.resume", CallTimeout);

    public bool IsPaused(HypervisorEndpoint endpoint) => State(new CloudHypervisorApi(endpoint.ApiSocket), CallTimeout) == "Paused";

    /// <summary>vm.reboot: CH resets the VM inside the same process (its guest then boots again).</summary>
    public void Reset(HypervisorEndpoint endpoint) => new CloudHypervisorApi(endpoint.ApiSocket).Put("vm.reboot", CallTimeout);

    public DiskCounters ReadDiskCounters(HypervisorEndpoint endpoint)
    {
        var (read, write) = Sum(Counters(endpoint), "read_bytes", "write_bytes");
        return new DiskCounters(read, write);
    }

    /// <summary>virtio-net counters are the device's: rx_bytes is what the guest received.</summary>
    public NetworkCounters? ReadNetworkCounters(HypervisorEndpoint endpoint)
    {
        var (rx, tx) = Sum(Counters(endpoint), "rx_bytes", "tx_bytes");
        return new NetworkCounters(rx, tx);
    }

    private static JsonObject Counters(HypervisorEndpoint endpoint) =>
        new CloudHypervisorApi(endpoint.ApiSocket).Get("vm.counters", CallTimeout) as JsonObject ?? new JsonObject();

    /// <summary>vm.counters is {device id: {counter: value}}; only devices that have the pair count.</summary>
    private static (long, long) Sum(JsonObject counters, string first, string second)
    {
        long a = 0, b = 0;
        foreach (var (_, device) in counters)
            if (device is JsonObject d && Number(d[first]) is { } x && Number(d[second]) is { } y) { a += x; b += y; }
        return (a, b);
    }

    private static long? Number(JsonNode? node)
    {
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<long>(out var l)) return l;
        return v.TryGetValue<ulong>(out var u) ? (long)Math.Min(u, long.MaxValue) : null;
    }
}
