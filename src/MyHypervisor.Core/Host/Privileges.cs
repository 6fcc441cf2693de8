using System.Globalization;
using Mono.Unix.Native;

namespace MyHypervisor.Core.Host;

/// <summary>
/// What the current process may do, read from the kernel (effective uid, effective capability
/// set in /proc/self/status, access(2) on device nodes), never guessed from the user name.
/// </summary>
public static class Privileges
{
    /// <summary>Capability numbers from linux/capability.h.</summary>
    public const int CapSetGid = 6, CapNetAdmin = 12, CapSysAdmin = 21;

    public static uint EffectiveUid => Syscall.geteuid();
    public static bool IsRoot => EffectiveUid == 0;

    /// <summary>The user's name (or "uid N" when the passwd database has none), for messages.</summary>
    public static string UserName
    {
        get
        {
            var uid = EffectiveUid;
            try { return Syscall.getpwuid(uid)?.pw_name ?? $"uid {uid}"; }
            catch (Exception) { return $"uid {uid}"; }
        }
    }

    /// <summary>True when the capability is in this process's effective set.</summary>
    public static bool HasCapability(int capability)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    return (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << capability)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return false;
    }

    /// <summary>True when this process may open the path for reading and writing (a device node such as /dev/kvm).</summary>
    public static bool CanReadWrite(string path) => Syscall.access(path, AccessModes.R_OK | AccessModes.W_OK) == 0;
}
