using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors;

/// <summary>What each engine can run, checked by New-MyVm before anything is written.</summary>
public static class HypervisorRules
{
    public static void Validate(VmSpec spec)
    {
        var known = Lifecycle.VmManager.HypervisorNames;
        if (!known.Contains(spec.Hypervisor, StringComparer.Ordinal))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': -Hypervisor '{spec.Hypervisor}' is not an engine the module runs. Use one of: {string.Join(", ", known)}.", spec.Name);
        if (spec.Hypervisor != CloudHypervisor.CloudHypervisorDriver.DriverName) return;
        // CH has no user-mode (slirp) network: a TAP device, or no network at all.
        if (spec.Network == NetworkMode.User)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': Cloud Hypervisor has no user-mode network (and so no SSH port forward). " +
                "Use -Network None, or -Network Bridge -Bridge <bridge> (a TAP device, root).", spec.Name);
    }
}
