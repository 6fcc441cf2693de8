using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>New-MyVm's first-boot and SSH settings: validated before anything is created, the SSH port chosen.</summary>
public static class FirstBootPlan
{
    /// <summary>
    /// Validates the spec's first-boot settings and returns the SSH forward of a user network:
    /// the port the user pinned, or automatic (keys given, or -SshPort 0: a free port is chosen
    /// at each start), or neither.
    /// </summary>
    public static (int? Pinned, bool Automatic) Validate(VmSpec spec)
    {
        var settings = spec.FirstBoot ?? new FirstBootSettings();
        FirstBootRules.Validate(spec.Name, settings, spec.SshPort is 0 ? null : spec.SshPort);
        if (spec.SshPort is not null && spec.Network != NetworkMode.User)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': SshPort applies to the User network only (a bridged VM is reached at its own address).", spec.Name);
        if (spec.Network != NetworkMode.User) return (null, false);
        if (spec.SshPort is { } port and not 0) return (port, false);
        // Keys given but no port: one is chosen at every start (a port free now may be taken by then).
        return (null, settings.SshPublicKeys.Count > 0 || spec.SshPort is 0);
    }
}
