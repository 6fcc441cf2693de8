using System.Diagnostics;
using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>
/// Chooses KVM or TCG per MYHV_ACCEL. 'auto' does not trust /dev/kvm: on some hosts KVM opens
/// fine and then hangs every guest, so it boots the real kernel under KVM for a few seconds and
/// takes KVM only if the kernel printed. The answer is cached per boot of the host.
/// </summary>
/// <remarks>
/// Several processes may start their first VM in one home at once. The probe runs under a
/// per-home lock file (cache/accelerator.lock, an flock the kernel drops if the holder dies), so
/// one process probes while the others wait and then read its answer; each probe has a folder of
/// its own (cache/kvm-probe-&lt;attempt&gt;), so no two probes ever share a console log. Only a
/// probe that reached a verdict is cached: the kernel printed (kvm), it stayed silent for the
/// whole probe time, or QEMU refused KVM itself (tcg). A probe that was cancelled or failed for
/// another reason answers tcg for this start only, and the next start probes again.
/// </remarks>
public sealed class AcceleratorSelector(MyHvPaths paths)
{
    public const string Variable = "MYHV_ACCEL";
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(4);
    /// <summary>Long enough for another process's probe (its QEMU start plus the probe time), several times over.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    private sealed record CachedAnswer(string BootId, string Accelerator, string Reason);

    private enum Verdict { Boots, Silent, RefusedKvm, None }

    public string CacheFile => Path.Combine(paths.CacheRoot, "accelerator.json");
    public string LockFile => Path.Combine(paths.CacheRoot, "accelerator.lock");

    public (string Accelerator, string Reason) Select(string qemu, string? kernel, Action<string>? narrate = null, CancellationToken cancel = default)
    {
        var wanted = (Environment.GetEnvironmentVariable(Variable) ?? "auto").Trim().ToLowerInvariant();
        switch (wanted)
        {
            case "tcg":
                return ("tcg", $"{Variable}=tcg");
            case "kvm":
                if (!File.Exists("/dev/kvm"))
                    throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, $"{Variable}=kvm but /dev/kvm does not exist. See Test-MyVmHost.");
                if (!Host.Privileges.CanReadWrite("/dev/kvm"))
                    throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                        $"{Variable}=kvm but user '{Host.Privileges.UserName}' has no read-write access to /dev/kvm. " +
                        "Remedy: add the user to the group that owns /dev/kvm (usually 'kvm': usermod -aG kvm <user>, then log in again), or set MYHV_ACCEL=tcg or auto. See Test-MyVmHost.");
                return ("kvm", $"{Variable}=kvm");
            case "auto" or "":
                return Auto(qemu, kernel, narrate, cancel);
            default:
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"{Variable} is '{wanted}'; use auto, kvm or tcg.");
        }
    }

    private (string, string) Auto(string qemu, string? kernel, Action<string>? narrate, CancellationToken cancel)
    {
        if (!File.Exists("/dev/kvm")) return ("tcg", "no /dev/kvm");
        // Not this user's to open (not in the kvm group): TCG, and nothing probed or cached.
        if (!Host.Privileges.CanReadWrite("/dev/kvm")) return ("tcg", $"user '{Host.Privileges.UserName}' has no access to /dev/kvm");
        if (TryReadCache(CacheFile) is { } cached) return (cached.Accelerator, cached.Reason);
        // A whole-disk image brings no kernel of its own to probe with: TCG, and nothing cached.
        if (kernel is null) return ("tcg", "KVM not probed yet on this host boot (a whole-disk image has no kernel to probe with; start a direct-kernel VM once to probe)");

        using var probeLock = VmLock.TryAcquire(LockFile, LockWait, cancel, removable: false);
        if (probeLock is null)
        {
            narrate?.Invoke($"Another process has been probing KVM for over {LockWait.TotalSeconds:0} s ({LockFile}); using TCG for this start");
            return ("tcg", "the KVM probe of another process did not finish; not cached");
        }
        // Whoever held the lock before us may just have cached its verdict.
        if (TryReadCache(CacheFile) is { } fresh) return (fresh.Accelerator, fresh.Reason);

        narrate?.Invoke("Probing whether KVM really boots a guest (once per host boot)");
        var (verdict, detail) = KvmBootsAGuest(qemu, kernel, cancel);
        var answer = verdict switch
        {
            Verdict.Boots => new CachedAnswer(ProcFs.BootId, "kvm", "KVM booted a probe guest"),
            Verdict.Silent => new CachedAnswer(ProcFs.BootId, "tcg", $"KVM opened but a probe guest printed nothing in {ProbeTimeout.TotalSeconds:0} s"),
            Verdict.RefusedKvm => new CachedAnswer(ProcFs.BootId, "tcg", $"QEMU could not use KVM: {detail}"),
            _ => null,
        };
        if (answer is null)
        {
            narrate?.Invoke($"The KVM probe reached no verdict ({detail}); using TCG for this start, not caching it");
            return ("tcg", $"the KVM probe reached no verdict ({detail}); not cached");
        }
        MyHvPaths.EnsurePrivateDirectory(paths.CacheRoot);
        AtomicFile.WriteAllText(CacheFile, JsonSerializer.Serialize(answer, Json.Options));
        return (answer.Accelerator, answer.Reason);
    }

    /// <summary>The accelerator a start would use, without probing: the setting, else the cached verdict, else null (not probed yet).</summary>
    public string? Known()
    {
        var wanted = (Environment.GetEnvironmentVariable(Variable) ?? "auto").Trim().ToLowerInvariant();
        if (wanted is "kvm" or "tcg") return wanted;
        if (!File.Exists("/dev/kvm") || !Host.Privileges.CanReadWrite("/dev/kvm")) return "tcg";
        return TryReadCache(CacheFile)?.Accelerator;
    }

    private static CachedAnswer? TryReadCache(string file)
    {
        try
        {
            var cached = JsonSerializer.Deserialize<CachedAnswer>(File.ReadAllText(file), Json.Options);
            return cached?.BootId == ProcFs.BootId && cached.Accelerator is "kvm" or "tcg" ? cached : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    private (Verdict, string) KvmBootsAGuest(string qemu, string kernel, CancellationToken cancel)
    {
        var probeDir = Path.Combine(paths.CacheRoot, $"kvm-probe-{Guid.NewGuid():N}");
        MyHvPaths.EnsurePrivateDirectory(paths.CacheRoot);
        MyHvPaths.EnsurePrivateDirectory(probeDir);
        try
        {
            var log = Path.Combine(probeDir, "console.log");
            File.WriteAllText(log, string.Empty);
            var info = new ProcessStartInfo(qemu) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
            foreach (var a in new[] { "-accel", "kvm", "-nodefaults", "-no-user-config", "-display", "none", "-m", "128M", "-no-reboot",
                                      "-kernel", kernel, "-append", "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
                                      "-serial", $"file:{log}" })
                info.ArgumentList.Add(a);
            using var probe = Process.Start(info)!;
            var stderr = probe.StandardError.ReadToEndAsync();
            try
            {
                var deadline = DateTime.UtcNow + ProbeTimeout;
                while (DateTime.UtcNow < deadline && !probe.HasExited)
                {
                    cancel.ThrowIfCancellationRequested();
                    if (PrintedLinux(log)) return (Verdict.Boots, "the kernel printed");
                    Thread.Sleep(50);
                }
                if (PrintedLinux(log)) return (Verdict.Boots, "the kernel printed");
                if (!probe.HasExited) return (Verdict.Silent, "silent");
                probe.WaitForExit();
                var error = stderr.Wait(TimeSpan.FromSeconds(2)) ? stderr.Result.Trim() : "";
                // QEMU's own refusal of KVM ("failed to initialize kvm", "Could not access KVM
                // kernel module") is a verdict; an exit for any other reason is not.
                return error.Contains("kvm", StringComparison.OrdinalIgnoreCase)
                    ? (Verdict.RefusedKvm, error)
                    : (Verdict.None, $"the probe QEMU exited with {probe.ExitCode}: {error}");
            }
            finally
            {
                if (!probe.HasExited) probe.Kill(entireProcessTree: true);
                probe.WaitForExit();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return (Verdict.None, e.Message);
        }
        finally
        {
            try { Directory.Delete(probeDir, recursive: true); }
            catch (DirectoryNotFoundException) { }
        }
    }

    /// <summary>The kernel's first line is within the first few KiB: no need to read more than that.</summary>
    private static bool PrintedLinux(string log)
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new byte[16 * 1024];
        var n = stream.Read(buffer, 0, buffer.Length);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, n).Contains("Linux version", StringComparison.Ordinal);
    }
}
