using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>The ssh command line that reaches a VM given SSH keys: the 127.0.0.1 forward, or the bridged address.</summary>
public static class SshCommand
{
    /// <param name="runPort">The forward's port in the current run (null when not running: a pinned port is still known).</param>
    public static string? For(VmDefinition definition, int? runPort)
    {
        if (definition.FirstBoot is not { SshPublicKeys.Count: > 0 }) return null;
        var net = definition.Network;
        if (net.Mode == NetworkMode.User && (runPort ?? net.SshPort) is { } port) return $"ssh -p {port} root@127.0.0.1";
        if (net.Mode == NetworkMode.Bridge && net.Address is { } address) return $"ssh root@{address.Split('/')[0]}";
        return null;
    }
}
