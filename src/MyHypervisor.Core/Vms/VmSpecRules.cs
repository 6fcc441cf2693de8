using System.Net;
using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Networking;

namespace MyHypervisor.Core.Vms;

/// <summary>
/// Checks a spec before anything is created. Every rule throws InvalidVmSpec with the setting's
/// name and the accepted range, so the user can fix it without reading the source.
/// </summary>
public static partial class VmSpecRules
{
    public const int MinCpus = 1, MaxCpus = 64;
    public const int MinMemoryMiB = 64, MaxMemoryMiB = 65536;
    public const int MaxVolumes = 8;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,15}$")]
    private static partial Regex SafeTag();

    [GeneratedRegex("^[A-Za-z0-9_.=,: -]*$")]
    private static partial Regex SafeKernelArguments();

    public static void Validate(VmSpec spec, Func<string, bool> bridgeExists)
    {
        VmNameRules.Validate(spec.Name);
        string name = spec.Name;
        if (spec.Cpus is < MinCpus or > MaxCpus)
            Fail(name, $"Cpus is {spec.Cpus}; use {MinCpus} to {MaxCpus}.");
        if (spec.MemoryMiB is < MinMemoryMiB or > MaxMemoryMiB)
            Fail(name, $"MemoryMiB is {spec.MemoryMiB}; use {MinMemoryMiB} to {MaxMemoryMiB}.");
        ValidateNetwork(spec, bridgeExists);
        ValidateVolumes(spec);
        if (spec.KernelArguments is { } args && !SafeKernelArguments().IsMatch(args))
            Fail(name, "KernelArguments may hold letters, digits, spaces and . _ = , : - only.");
    }

    private static void ValidateNetwork(VmSpec spec, Func<string, bool> bridgeExists)
    {
        if (spec.Network != NetworkMode.Bridge)
        {
            if (spec.Bridge is not null || spec.Address is not null || spec.Gateway is not null)
                Fail(spec.Name, "Bridge, IPAddress and Gateway apply to the Bridge network only.");
            return;
        }
        if (string.IsNullOrWhiteSpace(spec.Bridge))
            Fail(spec.Name, "the Bridge network needs -Bridge <name>.");
        if (!NetworkInterfaceNames.IsValid(spec.Bridge!))
            Fail(spec.Name, $"'{spec.Bridge}' is not a valid interface name.");
        if (!bridgeExists(spec.Bridge!))
            Fail(spec.Name, $"the bridge '{spec.Bridge}' does not exist on this host (no /sys/class/net/{spec.Bridge}/bridge). Create it first, for example: ip link add {spec.Bridge} type bridge.");
        if (spec.Address is not null && !IsCidr(spec.Address))
            Fail(spec.Name, $"IPAddress '{spec.Address}' is not an IPv4 address with a prefix, such as 192.168.50.10/24.");
        if (spec.Gateway is not null && !IPAddress.TryParse(spec.Gateway, out _))
            Fail(spec.Name, $"Gateway '{spec.Gateway}' is not an IP address.");
        if (spec.Gateway is not null && spec.Address is null)
            Fail(spec.Name, "a Gateway needs an IPAddress too.");
    }

    private static void ValidateVolumes(VmSpec spec)
    {
        if (spec.Volumes.Count > MaxVolumes)
            Fail(spec.Name, $"{spec.Volumes.Count} volumes; at most {MaxVolumes} are supported.");
        var tags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var volume in spec.Volumes)
        {
            if (string.IsNullOrWhiteSpace(volume.Path) || !System.IO.Path.IsPathFullyQualified(volume.Path))
                Fail(spec.Name, $"volume path '{volume.Path}' must be an absolute path.");
            if (!Directory.Exists(volume.Path))
                Fail(spec.Name, $"volume path '{volume.Path}' is not an existing directory.");
            if (!SafeTag().IsMatch(volume.Tag ?? string.Empty))
                Fail(spec.Name, $"volume tag '{volume.Tag}' must be 1-16 lowercase letters, digits or '_', starting with a letter.");
            if (!tags.Add(volume.Tag!))
                Fail(spec.Name, $"volume tag '{volume.Tag}' is used twice.");
        }
    }

    private static bool IsCidr(string text)
    {
        var slash = text.IndexOf('/');
        return slash > 0
            && IPAddress.TryParse(text[..slash], out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            && int.TryParse(text[(slash + 1)..], out var prefix) && prefix is >= 1 and <= 32;
    }

    private static void Fail(string name, string problem) =>
        throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}': {problem}", name);
}
