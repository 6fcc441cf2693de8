using System.Globalization;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Networking;

/// <summary>Host TAP devices and bridges, through iproute2 (argument lists) and /sys/class/net.</summary>
public static class TapDevices
{
    public static bool Exists(string name) => Directory.Exists($"/sys/class/net/{name}");

    public static bool BridgeExists(string name) =>
        NetworkInterfaceNames.IsValid(name) && Directory.Exists($"/sys/class/net/{name}/bridge");

    /// <summary>
    /// Creates a persistent TAP, names its owner in its alias (so it is traced to its VM and home
    /// without any file: see Orphans.OwnerMark), attaches it to the bridge and brings it up.
    /// </summary>
    public static void Create(string name, string bridge, string? alias = null)
    {
        Ip("tuntap", "add", "dev", name, "mode", "tap");
        if (alias is not null) Ip("link", "set", "dev", name, "alias", alias);
        Ip("link", "set", "dev", name, "master", bridge);
        Ip("link", "set", "dev", name, "up");
    }

    public static void Delete(string name) => Ip("link", "delete", "dev", name);

    /// <summary>The TAP's counters as the host sees them (rx: sent by the guest; tx: sent to the guest).</summary>
    public static (long Rx, long Tx) Counters(string name)
    {
        long Read(string counter)
        {
            var path = $"/sys/class/net/{name}/statistics/{counter}";
            return File.Exists(path) ? long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture) : 0;
        }
        return (Read("rx_bytes"), Read("tx_bytes"));
    }

    private static void Ip(params string[] arguments)
    {
        var ip = ProgramRunner.Find("ip") ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            "The 'ip' program (Debian package iproute2) is needed for bridged networking. See Test-MyVmHost.");
        var result = ProgramRunner.Run(ip, arguments, TimeSpan.FromSeconds(10));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)}: {result.Describe()}");
    }
}
