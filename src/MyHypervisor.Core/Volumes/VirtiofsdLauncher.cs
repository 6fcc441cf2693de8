using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Volumes;

/// <summary>
/// Starts one virtiofsd per volume, before the hypervisor, with its vhost-user socket in the VM's
/// runtime dir. The process, its socket and the pid lock file QEMU's C virtiofsd keeps under
/// /run/virtiofsd are ledger artifacts, recorded before they exist.
/// </summary>
public static class VirtiofsdLauncher
{
    public const string ProgramName = "virtiofsd";
    private const string QemuBundled = "/usr/lib/qemu/virtiofsd";
    private const string LockFolder = "/run/virtiofsd";

    /// <summary>A virtiofsd on PATH (the newer Rust daemon) is preferred over the C one QEMU ships.</summary>
    public static string? Find() => ProgramRunner.Find(ProgramName) ?? (File.Exists(QemuBundled) ? QemuBundled : null);

    /// <summary>The C daemon's lock file: its socket path with '/' turned into '.', under /run/virtiofsd.</summary>
    public static string LockFileFor(string socketPath) => Path.Combine(LockFolder, socketPath.Replace('/', '.') + ".pid");

    /// <summary>Lock files of any virtiofsd whose socket lived under <paramref name="directory"/>.</summary>
    public static IEnumerable<string> LockFilesUnder(string directory)
    {
        if (!Directory.Exists(LockFolder)) return Array.Empty<string>();
        // The lock file's name is its socket path with '/' turned into '.' (see LockFileFor), so a
        // socket under the folder gives "<folder, '/' as '.'>." + "<socket name>.pid".
        var prefix = directory.TrimEnd('/').Replace('/', '.') + ".";
        return Directory.EnumerateFiles(LockFolder).Where(f => Path.GetFileName(f).StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>
    /// Runs the daemon as a plain child, started through /bin/sh with a fixed script and the values
    /// as positional arguments (never interpolated): stdin from /dev/null, stdout and stderr to
    /// <c>fs-&lt;tag&gt;.log</c> beside its socket, in a session of its own (setsid) so neither a
    /// terminal's Ctrl+C nor the cmdlet's exit ends it. Every exec keeps the pid.
    /// Why not --daemonize: the C daemon forks only after QEMU has connected, so a launcher that
    /// waits for it to return would wait for a QEMU that is started after it.
    /// A read-only volume served by the C daemon (it has no read-only export) runs in a private
    /// mount namespace (unshare) where its source folder is bind-mounted read-only: the host
    /// refuses writes even if the guest remounts the tag read-write, and the mount vanishes with
    /// the process, so there is nothing more to clean up.
    /// </summary>
    private const string LaunchScript = """
        log=$1 mode=$2 src=$3; shift 3
        exec </dev/null >"$log" 2>&1
        if [ "$mode" = hostro ]; then
            exec setsid unshare --mount --propagation private -- /bin/sh -c 'mount --bind -- "$0" "$0" && mount -o remount,bind,ro -- "$0" && exec "$@"' "$src" "$@"
        fi
        exec setsid "$@"
        """;

    /// <summary>The daemon's output, beside its socket in the runtime dir (removed with the run).</summary>
    public static string LogFileFor(string socketPath) => Path.ChangeExtension(socketPath, ".log");

    public static void Start(VmVolume volume, string socketPath, StartTransaction transaction, CancellationToken cancel)
    {
        var program = Find() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "virtiofsd is not installed (it comes with the Debian package qemu-system-x86 as /usr/lib/qemu/virtiofsd). See Test-MyVmHost.");
        var rust = Path.GetFileName(program) == ProgramName && program != QemuBundled && SupportsReadOnlyFlag(program);
        var hostReadOnly = volume.ReadOnly && !rust;
        if (hostReadOnly && (ProgramRunner.Find("unshare") is null || ProgramRunner.Find("setsid") is null))
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                "A read-only volume served by QEMU's virtiofsd needs 'unshare' and 'setsid' (Debian package util-linux).");
        var marker = "--socket-path=" + socketPath;

        // Recorded before they exist; the process last, so its undo (newest first) ends it before
        // its socket and lock file are removed.
        var step = transaction.CurrentStep;
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.HelperLockFile, Step = step, Path = LockFileFor(socketPath) });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = step, Path = socketPath });
        var record = transaction.Intend(new ArtifactRecord
        {
            Kind = ArtifactKind.Process, Step = step, Program = program, Marker = marker, Name = $"volume '{volume.Tag}'",
        });

        var arguments = new List<string> { marker, "-o", $"source={volume.Path}", "-o", "cache=auto" };
        if (rust && volume.ReadOnly) arguments.Add("--readonly");
        var log = LogFileFor(socketPath);
        var info = new System.Diagnostics.ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var argument in new[] { "-c", LaunchScript, "sh", log, hostReadOnly ? "hostro" : "rw", volume.Path, program }.Concat(arguments))
            info.ArgumentList.Add(argument);
        using (System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}")) { }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        ProcessIdentity? identity = null;
        while (DateTime.UtcNow < deadline)
        {
            cancel.ThrowIfCancellationRequested();
            identity ??= ProcessLiveness.FindByCommandLine(marker).FirstOrDefault(p => Path.GetFileName(p.Executable) == Path.GetFileName(program));
            if (identity is not null && File.Exists(socketPath)) break;
            if (identity is not null && !ProcessLiveness.IsAlive(identity)) break;
            Thread.Sleep(10);
        }
        if (identity is not null) transaction.Update(record with { Process = identity });
        if (identity is null || !ProcessLiveness.IsAlive(identity) || !File.Exists(socketPath))
            throw new InvalidOperationException(identity is not null && !ProcessLiveness.IsAlive(identity)
                ? $"virtiofsd for volume '{volume.Tag}' exited before it opened its socket{LogTail(log)}"
                : $"virtiofsd for volume '{volume.Tag}' did not open its socket {socketPath} within 10 s{LogTail(log)}");
    }

    private static string LogTail(string log)
    {
        try
        {
            var lines = File.Exists(log) ? File.ReadAllLines(log).Where(l => l.Length > 0).TakeLast(5).ToArray() : Array.Empty<string>();
            return lines.Length == 0 ? "." : ": " + string.Join(" | ", lines);
        }
        catch (IOException) { return "."; }
    }

    private static bool SupportsReadOnlyFlag(string program)
    {
        try { return ProgramRunner.Run(program, new[] { "--help" }, TimeSpan.FromSeconds(5)).StandardOutput.Contains("--readonly"); }
        catch (Exception) { return false; }
    }
}
