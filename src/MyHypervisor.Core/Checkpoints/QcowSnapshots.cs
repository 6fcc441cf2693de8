using System.Text.Json.Nodes;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// Internal snapshots of a VM's qcow2 disk, the storage of its checkpoints. A stopped VM's disk is
/// handled with qemu-img; a running one's through its QEMU (QMP), which holds the image's write
/// lock: snapshot-save (a job that writes the disk's snapshot and, with vmstate, the memory and
/// device state into the same qcow2), blockdev-snapshot-delete-internal-sync and query-block.
/// Only the VM's own disk (drive disk0) takes part: the seed disk is raw and read-only, and the
/// image's disk below the overlay is a read-only backing file, so neither is ever written.
/// </summary>
public static class QcowSnapshots
{
    /// <summary>The drive id of the VM's disk on QEMU's command line (see QemuCommandLine).</summary>
    public const string DiskDevice = "disk0";
    private static readonly TimeSpan ImgTimeout = TimeSpan.FromSeconds(120);
    /// <summary>
    /// QEMU writes the state from its main loop, which also sends QMP replies: on a busy host the
    /// reply to snapshot-save can come only once much of the state is written.
    /// </summary>
    private static readonly TimeSpan ReplyWait = TimeSpan.FromSeconds(120);

    public sealed record Entry(string Id, string Name, long VmStateSize, DateTimeOffset Date, TimeSpan VmClock);

    // ---- a stopped VM: qemu-img -------------------------------------------------------------

    /// <summary>The snapshots in a disk file (-U: readable even while a QEMU holds the disk).</summary>
    public static IReadOnlyList<Entry> ListOffline(string disk)
    {
        var result = QemuImg("info", "-U", "--output=json", "--", disk);
        var info = JsonNode.Parse(result.StandardOutput) as JsonObject;
        return Parse(info?["snapshots"] as JsonArray);
    }

    public static void CreateOffline(string disk, string tag) => QemuImg("snapshot", "-q", "-c", tag, "--", disk);

    /// <summary>Reverts the disk to the snapshot (the snapshot stays).</summary>
    public static void ApplyOffline(string disk, string tag) => QemuImg("snapshot", "-q", "-a", tag, "--", disk);

    public static void DeleteOffline(string disk, string tag) => QemuImg("snapshot", "-q", "-d", tag, "--", disk);

    private static ProgramRunner.Result QemuImg(params string[] arguments)
    {
        var qemuImg = ProgramRunner.Find("qemu-img") ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "qemu-img (Debian package qemu-utils) is not installed. See Test-MyVmHost.");
        var result = ProgramRunner.Run(qemuImg, arguments, ImgTimeout);
        if (result.ExitCode != 0) throw new InvalidOperationException($"qemu-img {arguments[0]} failed: {result.Describe()}");
        return result;
    }

    // ---- a running VM: QMP ------------------------------------------------------------------

    public static IReadOnlyList<Entry> ListOnline(string apiSocket, CancellationToken cancel = default)
    {
        using var client = QmpClient.Connect(apiSocket, TimeSpan.FromSeconds(5), cancel);
        return Parse(Disk(client)["inserted"]?["image"]?["snapshots"] as JsonArray);
    }

    /// <summary>
    /// Saves a snapshot of the disk with the memory and device state in it (QMP snapshot-save).
    /// QEMU stops the guest's CPUs while it saves and lets them run again afterwards if they ran
    /// before (a paused VM stays paused). The job lives in QEMU: if this process dies, QEMU
    /// finishes it anyway, and the undo (<see cref="DeleteOnline"/> after <see cref="SettleJob"/>) takes it away.
    /// </summary>
    public static void SaveOnline(string apiSocket, string tag, string jobId, TimeSpan timeout, CancellationToken cancel)
    {
        using var client = QmpClient.Connect(apiSocket, TimeSpan.FromSeconds(5), cancel);
        var node = Disk(client)["inserted"]?["node-name"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"QEMU reports no block node for the drive {DiskDevice}");
        client.Execute("snapshot-save", new JsonObject
        {
            ["job-id"] = jobId, ["tag"] = tag, ["vmstate"] = node, ["devices"] = new JsonArray(node),
        }, ReplyWait, cancel);
        // Not cancellable: the job runs on in QEMU, and its result must be known before any undo.
        var error = WaitForJob(client, jobId, timeout);
        if (error is not null) throw new InvalidOperationException($"QEMU could not save the checkpoint: {error}");
    }

    /// <summary>
    /// Waits for a snapshot job this module started (perhaps by a process since killed) to end and
    /// dismisses it; returns its error, or null. A job that no longer exists counts as settled.
    /// </summary>
    public static string? SettleJob(string apiSocket, string jobId, TimeSpan timeout)
    {
        using var client = QmpClient.Connect(apiSocket, TimeSpan.FromSeconds(5));
        return WaitForJob(client, jobId, timeout);
    }

    private static string? WaitForJob(QmpClient client, string jobId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pause = 20;
        while (true)
        {
            var job = (client.Execute("query-jobs") as JsonArray)?.OfType<JsonObject>()
                .FirstOrDefault(j => j["id"]?.GetValue<string>() == jobId);
            if (job is null) return null;
            var status = job["status"]?.GetValue<string>();
            if (status == "concluded")
            {
                var error = job["error"]?.GetValue<string>();
                client.Execute("job-dismiss", new JsonObject { ["id"] = jobId });
                return error;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"QEMU's snapshot job {jobId} did not end within {timeout.TotalSeconds:0} s (status {status})");
            Thread.Sleep(pause);
            pause = Math.Min(pause * 2, 250);
        }
    }

    public static void DeleteOnline(string apiSocket, string tag)
    {
        using var client = QmpClient.Connect(apiSocket, TimeSpan.FromSeconds(5));
        client.Execute("blockdev-snapshot-delete-internal-sync", new JsonObject { ["device"] = DiskDevice, ["name"] = tag }, TimeSpan.FromSeconds(60));
    }

    private static JsonObject Disk(QmpClient client) =>
        (client.Execute("query-block") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(d => d["device"]?.GetValue<string>() == DiskDevice)
        ?? throw new InvalidOperationException($"QEMU reports no drive {DiskDevice}");

    private static IReadOnlyList<Entry> Parse(JsonArray? snapshots) =>
        snapshots?.OfType<JsonObject>().Select(s => new Entry(
            s["id"]?.GetValue<string>() ?? "",
            s["name"]?.GetValue<string>() ?? "",
            s["vm-state-size"]?.GetValue<long>() ?? 0,
            DateTimeOffset.FromUnixTimeSeconds(s["date-sec"]?.GetValue<long>() ?? 0).AddTicks((s["date-nsec"]?.GetValue<long>() ?? 0) / 100),
            TimeSpan.FromSeconds(s["vm-clock-sec"]?.GetValue<long>() ?? 0) + TimeSpan.FromTicks((s["vm-clock-nsec"]?.GetValue<long>() ?? 0) / 100)))
        .ToList() ?? new List<Entry>();
}
