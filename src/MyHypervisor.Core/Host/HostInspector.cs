using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Volumes;

namespace MyHypervisor.Core.Host;

/// <summary>What this host offers for running VMs, one check each, with a remedy for each failure.</summary>
public sealed class HostInspector(MyHvPaths paths)
{
    private const string DefaultImage = "tiny";

    public IReadOnlyList<HostCheck> Inspect(Action<string>? narrate = null)
    {
        var checks = new List<HostCheck>();
        var qemu = ProgramRunner.Find(QemuDriver.Executable);
        checks.Add(qemu is null
            ? Missing("Qemu", $"{QemuDriver.Executable} not found on PATH", "apt-get install qemu-system-x86")
            : Found("Qemu", $"{qemu}: {FirstLine(qemu, "-version")}"));
        var qemuImg = ProgramRunner.Find("qemu-img");
        checks.Add(qemuImg is null ? Missing("QemuImg", "qemu-img not found", "apt-get install qemu-utils") : Found("QemuImg", qemuImg));

        GuestImage? image = null;
        try
        {
            image = new ImageCatalog(paths).Resolve(DefaultImage);
            checks.Add(Found("DefaultImage", $"'{DefaultImage}' at {image.Folder}"));
        }
        catch (MyHvException e)
        {
            checks.Add(Missing("DefaultImage", e.Message, "New-MyVmImage -Name tiny builds it (so does ./build.ps1 -Task Bootstrap)"));
        }

        checks.Add(Accelerator(qemu, image, narrate));

        // The checks below are for the current user: an ordinary user may lack what root has.
        var user = $"user '{Privileges.UserName}'";
        var virtiofsd = VirtiofsdLauncher.Find();
        checks.Add(virtiofsd is null
            ? Missing("Virtiofsd", "no virtiofsd for volumes", "apt-get install qemu-system-x86 (ships /usr/lib/qemu/virtiofsd) or a virtiofsd package")
            : PrivilegedFeatures.VolumesProblem(readOnly: false) is { } volumes
                ? Missing("Virtiofsd", $"{virtiofsd}, but not for {user}: {volumes}", PrivilegedFeatures.VolumesRemedy)
                : Found("Virtiofsd", $"{virtiofsd} (volumes available to {user})"));
        // virtiofsd is launched by start-stop-daemon (dpkg) and read-only volumes are bind mounts (util-linux).
        var launcher = new[] { "start-stop-daemon", "mount", "umount" }.Where(p => ProgramRunner.Find(p) is null).ToList();
        checks.Add(launcher.Count > 0
            ? Missing("VolumeTools", $"missing for volumes: {string.Join(", ", launcher)}", "apt-get install dpkg util-linux")
            : virtiofsd is not null && PrivilegedFeatures.VolumesProblem(readOnly: true) is { } readOnly
                ? Missing("VolumeTools", $"start-stop-daemon, mount and umount, but read-only volumes are not for {user}: {readOnly}", PrivilegedFeatures.VolumesRemedy)
                : Found("VolumeTools", "start-stop-daemon, mount and umount"));

        var tun = File.Exists(PrivilegedFeatures.TunDevice);
        checks.Add(PrivilegedFeatures.BridgeProblem() is { } tap
            ? Missing("TapPermission", tun ? $"{user}: {tap}" : $"{PrivilegedFeatures.TunDevice} is missing",
                tun ? PrivilegedFeatures.BridgeRemedy : "modprobe tun")
            : Found("TapPermission", $"{user} may create TAP devices (CAP_NET_ADMIN, {PrivilegedFeatures.TunDevice})"));

        var bridges = Directory.Exists("/sys/class/net")
            ? Directory.EnumerateDirectories("/sys/class/net").Where(d => Directory.Exists(Path.Combine(d, "bridge"))).Select(Path.GetFileName).ToList()
            : new List<string?>();
        checks.Add(bridges.Count > 0
            ? Found("Bridge", "bridges: " + string.Join(", ", bridges))
            : Missing("Bridge", "no network bridge on this host (needed only for -Network Bridge)", "ip link add br0 type bridge && ip link set br0 up"));
        checks.Add(Orphans());
        checks.Add(CloudHypervisor(user));
        return checks;
    }

    /// <summary>The second engine (New-MyVm -Hypervisor cloud-hypervisor): its binary and version, and KVM, which it needs.</summary>
    private static HostCheck CloudHypervisor(string user)
    {
        var kvmOk = File.Exists("/dev/kvm") && Privileges.CanReadWrite("/dev/kvm");
        var kvm = !File.Exists("/dev/kvm") ? "/dev/kvm does not exist (no KVM on this host)"
            : kvmOk ? $"/dev/kvm is accessible to {user}" : $"/dev/kvm is not accessible to {user}";
        var ch = ProgramRunner.Find(Hypervisors.CloudHypervisor.CloudHypervisorDriver.Executable);
        if (ch is null)
            return Missing("CloudHypervisor",
                $"cloud-hypervisor not found on PATH (no Debian package ships it); {kvm}",
                "only for -Hypervisor cloud-hypervisor: put a static release binary from github.com/cloud-hypervisor/cloud-hypervisor/releases on PATH, on a host with KVM");
        var detail = $"{ch}: {FirstLine(ch, "--version")}; {kvm}";
        return kvmOk
            ? Found("CloudHypervisor", detail)
            : Missing("CloudHypervisor", detail, "Cloud Hypervisor runs on KVM only: use a host with KVM and give the user access to /dev/kvm (usermod -aG kvm <user>)");
    }

    private HostCheck Accelerator(string? qemu, GuestImage? image, Action<string>? narrate)
    {
        if (qemu is null || image is null)
            return Missing("Accelerator", "cannot probe without QEMU and the default image", "install QEMU and build the default image first");
        // The probe caches its answer under MYHV_HOME: never in a home every other command refuses.
        var wanted = (Environment.GetEnvironmentVariable(AcceleratorSelector.Variable) ?? "auto").Trim().ToLowerInvariant();
        if ((wanted is "auto" or "") && Configuration.StateHomeGuard.Problem(paths.Home) is { } unsafeHome)
            return Missing("Accelerator", $"not probed: {unsafeHome}", "fix MYHV_HOME as the detail says, or set MYHV_ACCEL=tcg");
        try
        {
            var (accelerator, reason) = new AcceleratorSelector(paths).Select(qemu, image.Kernel, narrate);
            // KVM is per user too: /dev/kvm is usually open to root and the 'kvm' group only.
            var kvm = File.Exists("/dev/kvm") && !Privileges.CanReadWrite("/dev/kvm")
                ? $"; /dev/kvm is not accessible to user '{Privileges.UserName}' (add the user to the group owning /dev/kvm, usually 'kvm', for KVM)"
                : string.Empty;
            return Found("Accelerator", $"{accelerator}: {reason}{kvm}");
        }
        catch (MyHvException e)
        {
            return Missing("Accelerator", e.Message, "unset MYHV_ACCEL or set it to auto or tcg");
        }
    }

    /// <summary>What runs or lies around for VMs of this home whose record is gone (see Get-MyVmOrphan).</summary>
    private HostCheck Orphans()
    {
        var orphans = new Orphans.OrphanCensus(paths).Find();
        if (orphans.Count == 0) return Found("Orphans", $"no orphaned process, TAP device, mount or file of {paths.Home}");
        var kinds = string.Join(", ", orphans.GroupBy(o => o.Kind).Select(g => $"{g.Count()} {g.Key}"));
        return Missing("Orphans", $"{orphans.Count} artifact(s) of VMs with no record in {paths.Home}: {kinds}",
            "Get-MyVmOrphan lists them; Repair-MyVm -Orphans ends and removes them");
    }

    private static string FirstLine(string program, string argument)
    {
        try { return ProgramRunner.Run(program, new[] { argument }, TimeSpan.FromSeconds(10)).StandardOutput.Split('\n')[0].Trim(); }
        catch (Exception e) { return $"(version unknown: {e.Message})"; }
    }

    private static HostCheck Found(string check, string detail) => new() { Check = check, Ok = true, Detail = detail };

    private static HostCheck Missing(string check, string detail, string remedy) =>
        new() { Check = check, Ok = false, Detail = detail, Remedy = remedy };
}
