using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace MyHypervisor.Core.Networking;

/// <summary>Names and addresses derived from a VM's id, so they are stable across starts and unique per VM.</summary>
public static partial class NetworkInterfaceNames
{
    /// <summary>The contract's prefix for every TAP device the module creates.</summary>
    public const string TapPrefix = "mh";

    [GeneratedRegex(@"\A[A-Za-z0-9_.-]{1,15}\z")]
    private static partial Regex InterfaceName();

    public static bool IsValid(string name) => InterfaceName().IsMatch(name);

    /// <summary>'mh' + 10 hex digits of the id's hash: 12 characters, within the kernel's 15.</summary>
    public static string TapName(Guid vmId) => TapPrefix + Hash(vmId)[..10];

    /// <summary>A locally administered unicast MAC in QEMU's 52:54:00 range, from the id's hash.</summary>
    public static string MacAddress(Guid vmId)
    {
        var h = Hash(vmId);
        return $"52:54:00:{h[0..2]}:{h[2..4]}:{h[4..6]}";
    }

    private static string Hash(Guid id) =>
        Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(id.ToString("N")))).ToLowerInvariant();
}
