using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;
using MyHypervisor.Core.Volumes;

namespace MyHypervisor.Core.Host;

/// <summary>
/// Features that need privileges the current user may not have. Each is checked before anything
/// is created (New-MyVm and the start preflight) and refused with PrerequisiteMissing naming the
/// capability and the remedy, instead of failing half-way with a helper's "Operation not permitted".
/// Test-MyVmHost shows the same answers for the current user.
/// </summary>
public static class PrivilegedFeatures
{
    public const string TunDevice = "/dev/net/tun";

    /// <summary>Null when this user can create TAP devices for -Network Bridge, else why not.</summary>
    public static string? BridgeProblem()
    {
        var cap = Privileges.HasCapability(Privileges.CapNetAdmin);
        var tun = File.Exists(TunDevice) && Privileges.CanReadWrite(TunDevice);
        if (cap && tun) return null;
        var missing = !cap && !tun ? $"the CAP_NET_ADMIN capability and read-write access to {TunDevice}"
            : !cap ? "the CAP_NET_ADMIN capability" : $"read-write access to {TunDevice}";
        return $"a bridged network needs a TAP device, and creating one needs {missing}, which {Who()} does not have";
    }

    public const string BridgeRemedy = "run as root (or with CAP_NET_ADMIN), or use -Network User, which needs no privileges";

    /// <summary>
    /// Null when this user can serve volumes (read-only ones if <paramref name="readOnly"/>), else why
    /// not. QEMU's C virtiofsd needs root: it calls setgroups() and builds mount namespaces for its
    /// sandbox, and it writes its lock file under /run/virtiofsd; read-only volumes served by it are
    /// bind mounts, which need CAP_SYS_ADMIN. An unprivileged (Rust) virtiofsd on PATH needs neither.
    /// </summary>
    public static string? VolumesProblem(bool readOnly)
    {
        var program = VirtiofsdLauncher.Find();
        if (program is null) return null; // "not installed" is reported on its own, with its package
        if (VirtiofsdLauncher.IsUnprivilegedDaemon(program)) return null;
        if (Privileges.IsRoot && Privileges.HasCapability(Privileges.CapSysAdmin) && Privileges.HasCapability(Privileges.CapSetGid)) return null;
        var what = readOnly ? "read-only volumes" : "volumes";
        return $"{what} are served by QEMU's C virtiofsd ({program}), which needs root (CAP_SETGID and CAP_SYS_ADMIN for its sandbox" +
            (readOnly ? " and the read-only bind mount" : string.Empty) + $", and write access to /run/virtiofsd); {Who()} is not root";
    }

    public const string VolumesRemedy =
        "run as root, or install an unprivileged virtiofsd on PATH (the Rust virtiofsd, Debian package 'virtiofsd'), or start the VM without -Volume";

    /// <summary>Throws PrerequisiteMissing for the first privileged feature of the definition this user cannot use.</summary>
    public static void Check(string vmName, NetworkMode network, IReadOnlyCollection<VmVolume> volumes)
    {
        if (network == NetworkMode.Bridge && BridgeProblem() is { } bridge)
            throw Refuse(vmName, bridge, BridgeRemedy);
        if (volumes.Count > 0 && VolumesProblem(volumes.Any(v => v.ReadOnly)) is { } vols)
            throw Refuse(vmName, vols, VolumesRemedy);
    }

    private static MyHvException Refuse(string vmName, string problem, string remedy) =>
        new(MyHvErrorKind.PrerequisiteMissing, $"VM '{vmName}': {problem}. Remedy: {remedy}. See Test-MyVmHost.", vmName);

    private static string Who() => $"user '{Privileges.UserName}' (uid {Privileges.EffectiveUid})";
}
