using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// The kernel command line: the image's own, then the module's guest protocol (myhv.name,
/// myhv.net, myhv.vols, which the guest's init reads), then the user's extra arguments.
/// The same for every hypervisor driver.
/// </summary>
public static class GuestCommandLine
{
    /// <summary>QEMU's user-mode network hands out this address and gateway.</summary>
    private const string UserModeNet = "10.0.2.15/24,10.0.2.2";

    public static string Build(VmDefinition definition, GuestImage image)
    {
        CheckUserParts(definition);
        var parts = new List<string> { image.CommandLine, $"myhv.name={definition.Name}" };
        var net = definition.Network;
        if (net.Mode == NetworkMode.User) parts.Add($"myhv.net={UserModeNet}");
        if (net.Mode == NetworkMode.Bridge && net.Address is not null)
            parts.Add($"myhv.net={net.Address}{(net.Gateway is null ? "" : "," + net.Gateway)}");
        if (definition.Volumes.Count > 0)
            parts.Add("myhv.vols=" + string.Join(",", definition.Volumes.Select(v => $"{v.Tag}:{(v.ReadOnly ? "ro" : "rw")}")));
        if (!string.IsNullOrWhiteSpace(definition.KernelArguments)) parts.Add(definition.KernelArguments!);
        return string.Join(' ', parts.Where(p => !string.IsNullOrWhiteSpace(p)));
    }

    /// <summary>
    /// A whole-disk image boots with its own boot loader's command line: settings that travel on
    /// the module's kernel command line would be silently lost, so they are refused (the NoCloud
    /// seed carries the host name, keys and user-data instead; user-mode networking uses DHCP).
    /// </summary>
    public static void CheckFirmwareBoot(VmDefinition definition)
    {
        var lost = new List<string>();
        if (definition.Network.Address is not null) lost.Add("-IPAddress (configure it with -UserData, or use DHCP)");
        if (!string.IsNullOrWhiteSpace(definition.KernelArguments)) lost.Add("-KernelArguments");
        if (lost.Count > 0)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{definition.Name}': its image '{definition.Image}' is a whole disk that boots its own kernel command line, so {string.Join(" and ", lost)} cannot reach the guest.", definition.Name);
    }

    /// <summary>
    /// (Called by the start preflight too, so a bad record is refused before anything exists.)
    /// Every user-supplied value is checked again here, at the point of use, with the rules
    /// New-MyVm applied: a definition.json edited by hand must not smuggle a space, a newline
    /// or another parameter onto the kernel command line past the KernelArguments whitelist.
    /// </summary>
    public static void CheckUserParts(VmDefinition definition)
    {
        var name = definition.Name;
        void Refuse(string what) => throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
            $"VM '{name}': {what} in its definition is not allowed on the kernel command line; fix or re-create the VM with New-MyVm.", name);
        if (VmNameRules.Problem(name) is not null) Refuse("the name");
        var net = definition.Network;
        if (net.Address is not null && !VmSpecRules.IsCidr(net.Address)) Refuse($"the IPAddress '{net.Address}'");
        if (net.Gateway is not null && !VmSpecRules.IsDottedQuad(net.Gateway)) Refuse($"the Gateway '{net.Gateway}'");
        foreach (var volume in definition.Volumes)
            if (!VmSpecRules.IsSafeTag(volume.Tag)) Refuse($"the volume tag '{volume.Tag}'");
        if (definition.KernelArguments is { } args && !VmSpecRules.IsSafeKernelArguments(args)) Refuse("KernelArguments");
    }
}
