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

    // \A and \z, never ^ and $: $ also matches before a trailing newline, and a tag "data\n"
    // would split the kernel command line.
    [GeneratedRegex(@"\A[a-z][a-z0-9_]{0,15}\z")]
    private static partial Regex SafeTag();

    [GeneratedRegex(@"\A[A-Za-z0-9_.=,: -]*\z")]
    private static partial Regex SafeKernelArguments();

    /// <summary>
    /// A plain IPv4 dotted quad, each part 0-255 without leading zeros. IPAddress.TryParse is not
    /// used: it takes IPv6 with scope text ("fe80::1%x panic=0"), "10.1", hex and octal parts.
    /// </summary>
    private const string Octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

    [GeneratedRegex(@"\A" + Octet + @"(?:\." + Octet + @"){3}\z")]
    private static partial Regex DottedQuad();

    [GeneratedRegex(@"\A" + Octet + @"(?:\." + Octet + @"){3}/(?:3[0-2]|[12][0-9]|[1-9])\z")]
    private static partial Regex DottedQuadWithPrefix();

    public static void Validate(VmSpec spec, Func<string, bool> bridgeExists)
    {
        VmNameRules.Validate(spec.Name);
        string name = spec.Name;
        if (spec.Cpus is < MinCpus or > MaxCpus)
            Fail(name, $"Cpus is {spec.Cpus}; use {MinCpus} to {MaxCpus}.");
        if (spec.MemoryMiB is < MinMemoryMiB or > MaxMemoryMiB)
            Fail(name, $"MemoryMiB is {spec.MemoryMiB}; use {MinMemoryMiB} to {MaxMemoryMiB}.");
        if (Hypervisors.Qemu.TcgMemorySettings.Problem(spec.TranslationCacheMiB) is { } cacheProblem)
            Fail(name, $"{cacheProblem}.");
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
            Fail(spec.Name, $"IPAddress '{spec.Address}' is not a plain IPv4 address with a prefix 1-32, such as 192.168.50.10/24.");
        if (spec.Gateway is not null && !DottedQuad().IsMatch(spec.Gateway))
            Fail(spec.Name, $"Gateway '{spec.Gateway}' is not a plain IPv4 address (four numbers 0-255 separated by dots, such as 192.168.50.1).");
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
            if (PathRules.Problem(volume.Path) is { } pathProblem)
                Fail(spec.Name, $"volume path '{volume.Path.ReplaceLineEndings("\\n")}' cannot be shared: {pathProblem}.");
            if (!Directory.Exists(volume.Path))
                Fail(spec.Name, $"volume path '{volume.Path}' is not an existing directory.");
            if (!SafeTag().IsMatch(volume.Tag ?? string.Empty))
                Fail(spec.Name, $"volume tag '{volume.Tag}' must be 1-16 lowercase letters, digits or '_', starting with a letter.");
            if (!tags.Add(volume.Tag!))
                Fail(spec.Name, $"volume tag '{volume.Tag}' is used twice.");
        }
    }

    public static bool IsCidr(string text) => DottedQuadWithPrefix().IsMatch(text);
    public static bool IsDottedQuad(string text) => DottedQuad().IsMatch(text);
    public static bool IsSafeTag(string text) => SafeTag().IsMatch(text);
    public static bool IsSafeKernelArguments(string text) => SafeKernelArguments().IsMatch(text);

    private static void Fail(string name, string problem) =>
        throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}': {problem}", name);
}
