namespace MyHypervisor.Core.Vms;

/// <summary>A VM's network settings, fixed at New-MyVm so the MAC address and TAP name stay stable.</summary>
public sealed record VmNetwork
{
    public NetworkMode Mode { get; init; } = NetworkMode.User;
    public string? Bridge { get; init; }
    /// <summary>Guest address in CIDR form (bridged), handed to the guest on its kernel command line.</summary>
    public string? Address { get; init; }
    public string? Gateway { get; init; }
    public string? MacAddress { get; init; }
    /// <summary>Host TAP device name (bridged): 'mh' + a hash of the VM id, at most 15 characters.</summary>
    public string? TapName { get; init; }
    /// <summary>User network: host port on 127.0.0.1 forwarded to the guest's SSH port (hostfwd).</summary>
    public int? SshPort { get; init; }
    /// <summary>User network: a free port on 127.0.0.1 is chosen for the SSH forward at each start (recorded in the state).</summary>
    public bool SshPortAutomatic { get; init; }

    public override string ToString() => Mode switch
    {
        NetworkMode.Bridge => $"Bridge:{Bridge}",
        _ => Mode.ToString(),
    };
}
