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
public sealed class AcceleratorSelector(MyHvPaths paths)
{
    public const string Variable = "MYHV_ACCEL";
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(4);
    private static readonly object Gate = new();

    private sealed record CachedAnswer(string BootId, string Accelerator, string Reason);

    public (string Accelerator, string Reason) Select(string qemu, string kernel, Action<string>? narrate = null)
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
                return Auto(qemu, kernel, narrate);
            default:
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"{Variable} is '{wanted}'; use auto, kvm or tcg.");
        }
    }

    private (string, string) Auto(string qemu, string kernel, Action<string>? narrate)
    {
        if (!File.Exists("/dev/kvm")) return ("tcg", "no /dev/kvm");
        // Not this user's to open (not in the kvm group): TCG, and nothing probed or cached.
        if (!Host.Privileges.CanReadWrite("/dev/kvm")) return ("tcg", $"user '{Host.Privileges.UserName}' has no access to /dev/kvm");
        var cacheFile = Path.Combine(paths.CacheRoot, "accelerator.json");
        lock (Gate)
        {
            if (TryReadCache(cacheFile) is { } cached) return (cached.Accelerator, cached.Reason);
            narrate?.Invoke("Probing whether KVM really boots a guest (once per host boot)");
            var works = KvmBootsAGuest(qemu, kernel);
            var answer = works
                ? new CachedAnswer(ProcFs.BootId, "kvm", "KVM booted a probe guest")
                : new CachedAnswer(ProcFs.BootId, "tcg", $"KVM opened but a probe guest printed nothing in {ProbeTimeout.TotalSeconds:0} s");
            MyHvPaths.EnsurePrivateDirectory(paths.CacheRoot);
            AtomicFile.WriteAllText(cacheFile, JsonSerializer.Serialize(answer, Json.Options));
            return (answer.Accelerator, answer.Reason);
        }
    }

    private static CachedAnswer? TryReadCache(string file)
    {
        try
        {
            var cached = JsonSerializer.Deserialize<CachedAnswer>(File.ReadAllText(file), Json.Options);
            return cached?.BootId == ProcFs.BootId ? cached : null;
        }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    private bool KvmBootsAGuest(string qemu, string kernel)
    {
        var probeDir = Path.Combine(paths.CacheRoot, "kvm-probe");
        MyHvPaths.EnsurePrivateDirectory(probeDir);
        var log = Path.Combine(probeDir, "console.log");
        File.WriteAllText(log, string.Empty);
        var info = new ProcessStartInfo(qemu) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-accel", "kvm", "-nodefaults", "-no-user-config", "-display", "none", "-m", "128M", "-no-reboot",
                                  "-kernel", kernel, "-append", "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
                                  "-serial", $"file:{log}" })
            info.ArgumentList.Add(a);
        using var probe = Process.Start(info)!;
        try
        {
            var deadline = DateTime.UtcNow + ProbeTimeout;
            while (DateTime.UtcNow < deadline && !probe.HasExited)
            {
                if (new FileInfo(log).Length > 0 && File.ReadAllText(log).Contains("Linux version", StringComparison.Ordinal)) return true;
                Thread.Sleep(50);
            }
            return false;
        }
        finally
        {
            if (!probe.HasExited) probe.Kill(entireProcessTree: true);
            probe.WaitForExit();
            Directory.Delete(probeDir, recursive: true);
        }
    }
}
