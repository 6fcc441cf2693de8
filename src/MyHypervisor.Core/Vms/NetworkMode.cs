namespace MyHypervisor.Core.Vms;

/// <summary>How a VM reaches a network.</summary>
public enum NetworkMode
{
    /// <summary>No network device at all.</summary>
    None,
    /// <summary>QEMU's user-mode networking: outbound only, no privileges needed.</summary>
    User,
    /// <summary>A TAP device (prefix 'mh') attached to a host bridge; needs root.</summary>
    Bridge,
}
