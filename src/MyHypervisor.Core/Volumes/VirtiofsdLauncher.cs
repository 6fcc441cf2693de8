using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Volumes;

/// <summary>
/// Starts one virtiofsd per volume, before the hypervisor, with its vhost-user socket in the VM's
/// runtime dir. The process, its socket, its pid file, the pid lock file QEMU's C virtiofsd keeps
/// under /run/virtiofsd and (read-only volumes served by the C daemon) the read-only bind mount it
/// serves are ledger artifacts, recorded before they exist.
/// </summary>
public static class VirtiofsdLauncher
{
    public const string ProgramName = "virtiofsd";
    private const string QemuBundled = "/usr/lib/qemu/virtiofsd";
    private const string LockFolder = "/run/virtiofsd";
    private const string StartStopDaemon = "start-stop-daemon";

    /// <summary>A virtiofsd on PATH (the newer Rust daemon) is preferred over the C one QEMU ships.</summary>
    public static string? Find() => ProgramRunner.Find(ProgramName) ?? (File.Exists(QemuBundled) ? QemuBundled : null);

    /// <summary>The C daemon's lock file: its socket path with '/' turned into '.', under /run/virtiofsd.</summary>
    public static string LockFileFor(string socketPath) => Path.Combine(LockFolder, socketPath.Replace('/', '.') + ".pid");

    /// <summary>Lock files of any virtiofsd whose socket lived under <paramref name="directory"/>.</summary>
    public static IEnumerable<string> LockFilesUnder(string directory)
    {
        // The folder belongs to root (0700) on any host where root once shared a folder: an
        // ordinary user cannot list it, and cannot have run the C daemon that writes it either
        // (see PrivilegedFeatures), so an unreadable folder holds nothing of this user's VMs.
        try
        {
            if (!Directory.Exists(LockFolder)) return Array.Empty<string>();
            // The lock file's name is its socket path with '/' turned into '.' (see LockFileFor), so a
            // socket under the folder gives "<folder, '/' as '.'>." + "<socket name>.pid".
            var prefix = directory.TrimEnd('/').Replace('/', '.') + ".";
            return Directory.EnumerateFiles(LockFolder).Where(f => Path.GetFileName(f).StartsWith(prefix, StringComparison.Ordinal)).ToList();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return Array.Empty<string>();
        }
    }

    /// <summary>
    /// A virtiofsd that can run without root: the Rust daemon (on PATH, knows --readonly and
    /// --shared-dir), not the C one QEMU ships.
    /// </summary>
    public static bool IsUnprivilegedDaemon(string program) =>
        Path.GetFileName(program) == ProgramName && program != QemuBundled && SupportsReadOnlyFlag(program);

    /// <summary>
    /// A value for the C daemon's -o option list (libfuse's fuse_opt): options are split at commas
    /// and a backslash escapes the next character, so every backslash and comma is escaped and the
    /// daemon reads back exactly the path ('/x,source=/etc' stays one folder, never a second option).
    /// </summary>
    public static string FuseOptionValue(string value) => value.Replace("\\", "\\\\").Replace(",", "\\,");

    /// <summary>The daemon's output, beside its socket in the runtime dir (removed with the run).</summary>
    public static string LogFileFor(string socketPath) => Path.ChangeExtension(socketPath, ".log");

    /// <summary>The daemon's pid file (written by start-stop-daemon), beside its socket.</summary>
    public static string PidFileFor(string socketPath) => Path.ChangeExtension(socketPath, ".pid");

    /// <summary>Where a read-only volume's folder is bind-mounted read-only for the C daemon: ro-&lt;tag&gt; in the runtime dir.</summary>
    public static string ReadOnlyMountPointFor(string socketPath, string tag) =>
        Path.Combine(Path.GetDirectoryName(socketPath)!, "ro-" + tag);

    /// <summary>
    /// Starts the daemon detached with start-stop-daemon (dpkg), with an argument list, no shell:
    /// --background forks twice into a session of its own (neither a terminal's Ctrl+C nor the
    /// cmdlet's exit ends it), stdin from /dev/null, stdout and stderr to <c>fs-&lt;tag&gt;.log</c>
    /// beside its socket, and --make-pidfile writes the pid that then execs virtiofsd (so the pid
    /// file names the daemon itself). Why not virtiofsd's own --daemonize: the C daemon forks only
    /// after QEMU has connected, so a launcher that waits for it to return would wait for a QEMU
    /// that is started after it.
    /// A read-only volume served by the C daemon (it has no read-only export) is enforced on the
    /// host: its folder is bind-mounted read-only under the runtime dir and the daemon serves that
    /// mount, so the host refuses writes even if the guest remounts the tag read-write. The mount
    /// is a ledger artifact, undone (unmounted) after the daemon has ended and before the runtime
    /// dir is removed.
    /// Ledger order (newest first is the undo order): lock file, socket, pid file, mount, process;
    /// so the process is ended before its mount, pid file, socket and lock file are removed.
    /// </summary>
    public static void Start(VmVolume volume, string socketPath, Orphans.OwnerMark owner, StartTransaction transaction, CancellationToken cancel)
    {
        var program = Find() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "virtiofsd is not installed (it comes with the Debian package qemu-system-x86 as /usr/lib/qemu/virtiofsd). See Test-MyVmHost.");
        var launcher = ProgramRunner.Find(StartStopDaemon) ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "start-stop-daemon (Debian package dpkg) is not installed; it starts virtiofsd detached.");
        var rust = IsUnprivilegedDaemon(program);
        var hostReadOnly = volume.ReadOnly && !rust;
        if (hostReadOnly && BindMounts.MissingProgram() is { } missing)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"A read-only volume served by QEMU's virtiofsd needs '{missing}' (Debian package util-linux).");
        var marker = "--socket-path=" + socketPath;
        var pidFile = PidFileFor(socketPath);
        var log = LogFileFor(socketPath);

        // Recorded before they exist, the process last (see above).
        var step = transaction.CurrentStep;
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.HelperLockFile, Step = step, Path = LockFileFor(socketPath) });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = step, Path = socketPath });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = step, Path = pidFile });
        var source = volume.Path;
        if (hostReadOnly)
        {
            source = ReadOnlyMountPointFor(socketPath, volume.Tag);
            transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.Mount, Step = step, Path = source, Name = volume.Path });
            BindMounts.BindReadOnly(volume.Path, source);
        }
        var record = transaction.Intend(new ArtifactRecord
        {
            Kind = ArtifactKind.Process, Step = step, Program = program, Marker = marker, Name = $"volume '{volume.Tag}'",
        });

        // The shared folder never goes through a comma-split option list unescaped: the Rust daemon
        // takes it as an argument of its own (--shared-dir), the C daemon as an escaped -o value.
        // --umask 077: the pid file, the log and the daemon's files are private to the user.
        var arguments = new List<string>
        {
            "--start", "--background", "--umask", "077", "--output", log, "--chdir", "/", "--make-pidfile", "--pidfile", pidFile,
            "--exec", program, "--", marker,
        };
        if (rust) arguments.AddRange(new[] { "--shared-dir=" + source, "--cache=auto" });
        else arguments.AddRange(new[] { "-o", "source=" + FuseOptionValue(source), "-o", "cache=auto" });
        if (rust && volume.ReadOnly) arguments.Add("--readonly");
        // A stale pid file naming a live virtiofsd would make start-stop-daemon refuse ("already running").
        if (File.Exists(pidFile)) File.Delete(pidFile);
        // start-stop-daemon passes its environment on to the daemon it execs: the owner's mark with it.
        var launch = ProgramRunner.Run(launcher, arguments, TimeSpan.FromSeconds(30), owner.Environment);
        if (launch.ExitCode != 0)
            throw new InvalidOperationException(
                $"start-stop-daemon could not start virtiofsd for volume '{volume.Tag}' (exit {launch.ExitCode}): {launch.Describe()}{DetachedProcessFiles.LogTail(log)}");

        // start-stop-daemon writes its pid file 0644 whatever the umask (measured); it is 0600 here.
        if (File.Exists(pidFile)) File.SetUnixFileMode(pidFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // start-stop-daemon returns once the pid file is written; the pid execs virtiofsd right after.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        ProcessIdentity? identity = null;
        var exitedEarly = false;
        while (DateTime.UtcNow < deadline)
        {
            // A stop (Ctrl+C) is honoured only once the daemon is identified: until its exec the
            // pid is still start-stop-daemon, which neither the record's pid nor its program finds,
            // so a rollback then would miss the virtiofsd it becomes a moment later.
            if (identity is not null && cancel.IsCancellationRequested) break;
            if (identity is null && DetachedProcessFiles.ReadPidFile(pidFile) is int pid)
            {
                identity = IdentifyDaemon(pid, program, marker);
                if (identity is null && ProcFs.ReadStat(pid) is null or { HasExited: true }) { exitedEarly = true; break; }
            }
            if (identity is not null && (File.Exists(socketPath) || !ProcessLiveness.IsAlive(identity))) break;
            Thread.Sleep(10);
        }
        if (identity is not null) transaction.Update(record with { Process = identity });
        cancel.ThrowIfCancellationRequested();
        if (exitedEarly || (identity is not null && !ProcessLiveness.IsAlive(identity)))
            throw new InvalidOperationException($"virtiofsd for volume '{volume.Tag}' exited before it opened its socket{DetachedProcessFiles.LogTail(log)}");
        if (identity is null)
            throw new InvalidOperationException($"virtiofsd for volume '{volume.Tag}' did not start within 10 s (pid file {pidFile}){DetachedProcessFiles.LogTail(log)}");
        if (!File.Exists(socketPath))
            throw new InvalidOperationException($"virtiofsd for volume '{volume.Tag}' did not open its socket {socketPath} within 10 s{DetachedProcessFiles.LogTail(log)}");
        // The C daemon binds its socket 0700; sockets are 0600 (the runtime folder is 0700 meanwhile).
        File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>
    /// The pid file's process, once it runs <paramref name="program"/> with <paramref name="marker"/>
    /// on its command line (before its exec it is still start-stop-daemon); null until then.
    /// </summary>
    private static ProcessIdentity? IdentifyDaemon(int pid, string program, string marker)
    {
        var executable = ProcFs.ReadExecutable(pid);
        if (executable is null || Path.GetFileName(executable) != Path.GetFileName(program)) return null;
        if (!ProcessLiveness.CarriesMarker(pid, marker)) return null;
        return ProcessLiveness.Identify(pid);
    }

    private static bool SupportsReadOnlyFlag(string program)
    {
        try { return ProgramRunner.Run(program, new[] { "--help" }, TimeSpan.FromSeconds(5)).StandardOutput.Contains("--readonly"); }
        catch (Exception) { return false; }
    }
}
