using System.Diagnostics;
using System.Text.Json.Nodes;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// Runs one program in the guest with guest-exec and collects it with guest-exec-status. qemu-ga
/// hands the captured output over only once the process has exited (in one reply, up to 16 MiB
/// per stream), so the status is polled until it says exited. On timeout or Ctrl+C the process
/// group is killed in the guest with a second guest-exec, then collected, so nothing keeps running.
/// </summary>
public static class GuestCommandRunner
{
    /// <summary>How long one agent request may take (a reply carrying megabytes of output included).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan KillCollectWait = TimeSpan.FromSeconds(10);

    public static GuestCommandResult Run(GuestAgentConnection agent, string vmName, GuestCommandRequest request, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        var pid = Spawn(agent, request.GuestArgv(), request.Input, cancel);
        var deadline = DateTime.UtcNow + request.Timeout;
        var timedOut = false;
        JsonObject status;
        try
        {
            status = WaitForExit(agent, pid, deadline, cancel);
        }
        catch (OperationCanceledException)
        {
            Kill(agent, pid);
            throw;
        }
        if (status["exited"]?.GetValue<bool>() != true)
        {
            timedOut = true;
            Kill(agent, pid);
            status = WaitForExit(agent, pid, DateTime.UtcNow + KillCollectWait, CancellationToken.None);
            if (status["exited"]?.GetValue<bool>() != true)
                throw new GuestAgentUnavailableException($"the command (guest pid {pid}) did not end after SIGKILL within {KillCollectWait.TotalSeconds:0} s");
        }
        watch.Stop();
        var signal = status["signal"]?.GetValue<int>();
        var exitCode = signal is int s ? 128 + s : status["exitcode"]?.GetValue<int>() ?? -1;
        var truncated = status["out-truncated"]?.GetValue<bool>() == true || status["err-truncated"]?.GetValue<bool>() == true;
        return new GuestCommandResult(vmName, request.Display, pid, exitCode, signal, Decode(status["out-data"]), Decode(status["err-data"]),
            watch.Elapsed, timedOut, truncated);
    }

    /// <summary>guest-exec: starts the program with captured output and returns its guest pid.</summary>
    public static int Spawn(GuestAgentConnection agent, IReadOnlyList<string> argv, byte[]? input, CancellationToken cancel)
    {
        var arguments = new JsonObject
        {
            ["path"] = argv[0],
            ["arg"] = new JsonArray(argv.Skip(1).Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
            ["capture-output"] = true,
        };
        if (input is not null) arguments["input-data"] = Convert.ToBase64String(input);
        var reply = agent.Execute("guest-exec", arguments, RequestTimeout, cancel);
        return reply?["pid"]?.GetValue<int>() ?? throw new GuestAgentUnavailableException("its guest agent answered guest-exec without a pid");
    }

    /// <summary>
    /// Polls guest-exec-status until exited or the deadline: back to back at first (each round trip
    /// already takes milliseconds; most commands are short, and a doubling backoff overshoots their
    /// end), then with a pause growing 2 ms a round up to 50 ms for long commands.
    /// </summary>
    public static JsonObject WaitForExit(GuestAgentConnection agent, int pid, DateTime deadline, CancellationToken cancel)
    {
        var delay = -8;
        while (true)
        {
            var status = agent.Execute("guest-exec-status", new JsonObject { ["pid"] = pid }, RequestTimeout, cancel) as JsonObject
                ?? throw new GuestAgentUnavailableException("its guest agent answered guest-exec-status with no status");
            if (status["exited"]?.GetValue<bool>() == true || DateTime.UtcNow >= deadline) return status;
            var left = deadline - DateTime.UtcNow;
            if (delay > 0) cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Min(delay, Math.Max(1, left.TotalMilliseconds))));
            cancel.ThrowIfCancellationRequested();
            delay = Math.Min(delay + 2, 50);
        }
    }

    /// <summary>
    /// SIGKILL to the command's process group (setsid made its pid the group id) and to the pid
    /// itself, with busybox/procps kill in the guest; the kill's own status is collected too.
    /// </summary>
    private static void Kill(GuestAgentConnection agent, int pid)
    {
        try
        {
            var killer = Spawn(agent, new[] { "kill", "-9", $"-{pid}", $"{pid}" }, null, CancellationToken.None);
            WaitForExit(agent, killer, DateTime.UtcNow + KillCollectWait, CancellationToken.None);
        }
        catch (GuestAgentCommandException) { }
    }

    private static byte[] Decode(JsonNode? base64) =>
        base64 is null ? Array.Empty<byte>() : Convert.FromBase64String(base64.GetValue<string>());

    /// <summary>Runs a helper command of the module (sha256sum, mv, test) and returns exit code and stdout.</summary>
    public static (int ExitCode, string StdOut, string StdErr) RunHelper(GuestAgentConnection agent, IReadOnlyList<string> argv,
        TimeSpan timeout, CancellationToken cancel)
    {
        var result = Run(agent, "", new GuestCommandRequest { FilePath = argv[0], Arguments = argv.Skip(1).ToArray(), Timeout = timeout }, cancel);
        if (result.TimedOut) throw new GuestAgentUnavailableException($"'{string.Join(' ', argv)}' did not finish in the guest within {timeout.TotalSeconds:0} s");
        return (result.ExitCode, result.StdOut, result.StdErr);
    }
}
