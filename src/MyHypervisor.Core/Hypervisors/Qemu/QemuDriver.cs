using System.Text.Json.Nodes;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>Runs VMs with qemu-system-x86_64, daemonized, controlled over QMP.</summary>
public sealed class QemuDriver : IHypervisorDriver
{
    public const string Executable = "qemu-system-x86_64";
    public const string DriverName = "qemu";

    public string Name => DriverName;

    public string ExecutableName => Executable;

    /// <summary>The pid file's path, passed as a whole argument of -pidfile.</summary>
    public string ProcessMarker(Configuration.MyHvPaths paths, string vm) => paths.PidFile(vm);

    /// <summary>QEMU removes its pid file on a clean exit (guest power-off, quit); after a crash or SIGKILL the file stays.</summary>
    public bool LeftCrashEvidence(Configuration.MyHvPaths paths, string vm) => File.Exists(paths.PidFile(vm));

    public string GuestChannelSocket(Configuration.MyHvPaths paths, string vm) => paths.ChannelSocket(vm);

    /// <summary>The channel's chardev is a plain unix socket server.</summary>
    public System.Net.Sockets.Socket? ConnectGuestChannel(string channelSocket) => Lifecycle.GuestReadiness.TryConnect(channelSocket);

    public string DisplayName => "QEMU";
    public bool SupportsUserNetwork => true;
    public bool SupportsGuestAgent => true;
    public bool BootsFirmwareImages => true;
    public bool SupportsMemoryCheckpoints => true;

    public string? FindExecutable() => ProgramRunner.Find(Executable);

    public LaunchedHypervisor Launch(LaunchRequest request, StartTransaction transaction, CancellationToken cancel)
    {
        var qemu = FindExecutable() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            $"{Executable} is not installed (Debian package qemu-system-x86). See Test-MyVmHost.", request.Definition.Name);

        // Recorded before launch: if this process dies right after the fork, the marker (the pid
        // file's path, unique to this VM and passed as a whole argument of -pidfile) still finds
        // the daemon for the rollback.
        var processRecord = transaction.Intend(new ArtifactRecord
        {
            Kind = ArtifactKind.Process, Step = transaction.CurrentStep, Program = qemu, Marker = request.PidFile,
        });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = transaction.CurrentStep, Path = request.PidFile });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = transaction.CurrentStep, Path = request.ApiSocket });
        if (request.ConsoleSocket is not null)
            transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = transaction.CurrentStep, Path = request.ConsoleSocket });

        // With -daemonize the launching process returns once QEMU is initialised and its
        // sockets listen; its exit code and stderr tell whether the launch worked.
        // QEMU appends to the console log (so the module can bound it); each run starts a new one.
        Lifecycle.ConsoleLog.Reset(request.ConsoleLog);
        var launch = ProgramRunner.Run(qemu, QemuCommandLine.Build(request), TimeSpan.FromSeconds(60), request.Owner.Environment);
        if (launch.ExitCode != 0)
            throw new InvalidOperationException($"QEMU did not start (exit {launch.ExitCode}): {launch.Describe()}");

        MakePrivate(request);
        var identity = ReadPidFile(request.PidFile) is int pid ? ProcessLiveness.Identify(pid) : null;
        if (identity is null)
            throw new InvalidOperationException($"QEMU started but its pid file {request.PidFile} names no live process.");
        transaction.Update(processRecord with { Process = identity });
        return new LaunchedHypervisor(identity, new HypervisorEndpoint(request.ApiSocket));
    }

    /// <summary>
    /// QEMU's -daemonize sets umask 027 before it creates its sockets and opens the console log
    /// (measured: sockets 0750, console.log 0640), whatever umask it was started with. They are made
    /// 0600 once the launch returns; until then they sit in 0700 folders no one else can enter.
    /// </summary>
    private static void MakePrivate(LaunchRequest request)
    {
        foreach (var path in new[] { request.ApiSocket, request.ChannelSocket, request.AgentSocket, request.ConsoleSocket, request.ConsoleLog, request.PidFile })
            if (File.Exists(path)) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static int? ReadPidFile(string path)
    {
        try { return int.TryParse(File.ReadAllText(path).Trim(), out var pid) ? pid : null; }
        catch (IOException) { return null; }
    }

    public void WaitUntilRunning(HypervisorEndpoint endpoint, TimeSpan timeout, CancellationToken cancel)
    {
        var status = QmpClient.Call(endpoint.ApiSocket, "query-status", timeout, cancel: cancel) as JsonObject;
        var running = status?["running"]?.GetValue<bool>() ?? false;
        if (!running)
            throw new InvalidOperationException($"QEMU reports the guest as '{status?["status"]}', not running.");
    }

    public void RequestPowerOff(HypervisorEndpoint endpoint)
    {
        QmpClient.Call(endpoint.ApiSocket, "system_powerdown", TimeSpan.FromSeconds(3));
    }

    public void Quit(HypervisorEndpoint endpoint)
    {
        // QEMU may close the socket before the reply: it is quitting.
        QmpClient.Call(endpoint.ApiSocket, "quit", TimeSpan.FromSeconds(4), closeAnswers: true);
    }

    public void Pause(HypervisorEndpoint endpoint) => QmpClient.Call(endpoint.ApiSocket, "stop", TimeSpan.FromSeconds(2));

    public void Resume(HypervisorEndpoint endpoint) => QmpClient.Call(endpoint.ApiSocket, "cont", TimeSpan.FromSeconds(2));

    public bool IsPaused(HypervisorEndpoint endpoint)
    {
        var status = QmpClient.Call(endpoint.ApiSocket, "query-status", TimeSpan.FromSeconds(2)) as JsonObject;
        return !(status?["running"]?.GetValue<bool>() ?? false);
    }

    /// <summary>
    /// The VM runs with -no-reboot, under which QEMU turns any reset request (QMP's system_reset
    /// included) into an exit. For this one reset the reboot action is set to 'reset', then back
    /// to 'shutdown', so a reboot the guest asks for later still ends the process. The firmware
    /// (SeaBIOS) answers a reset with a hard reboot of its own (a RESET event with guest true),
    /// so the action goes back only once the firmware has been quiet for <see cref="FirmwareQuiet"/>
    /// after its last such reboot (in CI a reboot request right after the action went back at the
    /// first ended the process; most likely a second firmware reboot), or after <see cref="FirmwareResetWait"/>.
    /// The quiet second is what every forced restart pays for it.
    /// </summary>
    public void Reset(HypervisorEndpoint endpoint)
    {
        using var client = QmpClient.Connect(endpoint.ApiSocket, TimeSpan.FromSeconds(2));
        client.Execute("set-action", new { reboot = "reset" });
        try
        {
            client.Execute("system_reset");
            var deadline = DateTime.UtcNow + FirmwareResetWait;
            DateTime? lastGuestReset = null;
            var seen = 0;
            // Each command also collects the events that came before its reply.
            while (DateTime.UtcNow < deadline && (lastGuestReset is null || DateTime.UtcNow - lastGuestReset < FirmwareQuiet))
            {
                Thread.Sleep(20);
                client.Execute("query-status");
                var resets = client.Events.Count(IsGuestReset);
                if (resets > seen) { seen = resets; lastGuestReset = DateTime.UtcNow; }
            }
        }
        finally { client.Execute("set-action", new { reboot = "shutdown" }); }
    }

    private static readonly TimeSpan FirmwareResetWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirmwareQuiet = TimeSpan.FromSeconds(1);

    private static bool IsGuestReset(JsonObject e) =>
        e["event"]?.GetValue<string>() == "RESET" && (e["data"]?["guest"]?.GetValue<bool>() ?? false);

    public DiskCounters ReadDiskCounters(HypervisorEndpoint endpoint)
    {
        long read = 0, written = 0;
        if (QmpClient.Call(endpoint.ApiSocket, "query-blockstats", TimeSpan.FromSeconds(5)) is JsonArray devices)
            foreach (var device in devices.OfType<JsonObject>())
            {
                // Top-level entries are the guest's devices; nested parents would count bytes twice.
                read += device["stats"]?["rd_bytes"]?.GetValue<long>() ?? 0;
                written += device["stats"]?["wr_bytes"]?.GetValue<long>() ?? 0;
            }
        return new DiskCounters(read, written);
    }
}
