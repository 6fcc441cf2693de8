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
}
