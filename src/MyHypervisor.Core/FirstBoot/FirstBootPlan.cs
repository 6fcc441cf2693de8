using System.Net;
using System.Net.Sockets;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>New-MyVm's first-boot and SSH settings: validated before anything is created, the SSH port chosen.</summary>
public static class FirstBootPlan
{
    /// <summary>Validates the spec's first-boot settings and returns the host SSH port for a user network (null: none).</summary>
    public static int? Validate(VmSpec spec)
    {
        var settings = spec.FirstBoot ?? new FirstBootSettings();
        FirstBootRules.Validate(spec.Name, settings, spec.SshPort is 0 ? null : spec.SshPort);
        if (spec.SshPort is not null && spec.Network != NetworkMode.User)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{spec.Name}': SshPort applies to the User network only (a bridged VM is reached at its own address).", spec.Name);
        if (spec.Network != NetworkMode.User) return null;
        if (spec.SshPort is { } port and not 0) return port;
        // Keys given but no port: one free now (the forward is set up at every start).
        return settings.SshPublicKeys.Count > 0 || spec.SshPort is 0 ? FreeLoopbackPort() : null;
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
