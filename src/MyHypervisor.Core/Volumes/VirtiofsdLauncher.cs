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
        var prefix = Path.GetFileName(LockFileFor(directory.TrimEnd('/') + "/"));
        return Directory.EnumerateFiles(LockFolder).Where(f => Path.GetFileName(f).StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    public static void Start(VmVolume volume, string socketPath, StartTransaction transaction, CancellationToken cancel)
    {
        var program = Find() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "virtiofsd is not installed (it comes with the Debian package qemu-system-x86 as /usr/lib/qemu/virtiofsd). See Test-MyVmHost.");
        var rust = Path.GetFileName(program) == ProgramName && program != QemuBundled && SupportsReadOnlyFlag(program);
        var marker = "--socket-path=" + socketPath;

        var step = transaction.CurrentStep;
        var record = transaction.Intend(new ArtifactRecord
        {
            Kind = ArtifactKind.Process, Step = step, Program = program, Marker = marker, Name = $"volume '{volume.Tag}'",
        });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = step, Path = socketPath });
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.HelperLockFile, Step = step, Path = LockFileFor(socketPath) });

        var arguments = new List<string> { marker, "-o", $"source={volume.Path}", "-o", "cache=auto", "--daemonize" };
        // The C daemon has no read-only export; there the guest mounts the tag read-only.
        if (rust && volume.ReadOnly) arguments.Add("--readonly");
        var result = ProgramRunner.Run(program, arguments, TimeSpan.FromSeconds(15));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"virtiofsd for volume '{volume.Tag}' did not start (exit {result.ExitCode}): {result.Describe()}");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        ProcessIdentity? identity = null;
        while (DateTime.UtcNow < deadline)
        {
            cancel.ThrowIfCancellationRequested();
            identity ??= ProcessLiveness.FindByCommandLine(marker).FirstOrDefault(p => Path.GetFileName(p.Executable) == Path.GetFileName(program));
            if (identity is not null && File.Exists(socketPath)) break;
            Thread.Sleep(10);
        }
        if (identity is null || !File.Exists(socketPath))
            throw new InvalidOperationException($"virtiofsd for volume '{volume.Tag}' did not open its socket {socketPath} within 10 s.");
        transaction.Update(record with { Process = identity });
    }

    private static bool SupportsReadOnlyFlag(string program)
    {
        try { return ProgramRunner.Run(program, new[] { "--help" }, TimeSpan.FromSeconds(5)).StandardOutput.Contains("--readonly"); }
        catch (Exception) { return false; }
    }
}
