using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>What each engine can run, checked by New-MyVm before anything is written.</summary>
public static class HypervisorRules
{
    public static void Validate(VmSpec spec)
    {
        var known = Lifecycle.VmManager.HypervisorNames;
        var driver = Lifecycle.VmManager.FindDriver(spec.Hypervisor)
            ?? throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': -Hypervisor '{spec.Hypervisor}' is not an engine the module runs. Use one of: {string.Join(", ", known)}.", spec.Name);
        if (spec.Network == NetworkMode.User && !driver.SupportsUserNetwork)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': {driver.DisplayName} has no user-mode network (and so no SSH port forward). " +
                "Use -Network None, or -Network Bridge -Bridge <bridge> (a TAP device, root).", spec.Name);
    }

    /// <summary>
    /// The network of a VM whose New-MyVm names neither -Network nor -Bridge: the user-mode
    /// network where the engine has one, else none. An unknown engine gets the user-mode default
    /// here and is refused by <see cref="Validate"/>.
    /// </summary>
    public static NetworkMode DefaultNetwork(string hypervisor) =>
        Lifecycle.VmManager.FindDriver(hypervisor) is { SupportsUserNetwork: false } ? NetworkMode.None : NetworkMode.User;
}
