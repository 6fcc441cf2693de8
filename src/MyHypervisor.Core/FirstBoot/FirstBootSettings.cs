namespace MyHypervisor.Core.FirstBoot;

/// <summary>
/// What a VM's guest is told at its first boot, in the NoCloud form (a disk labelled cidata with
/// meta-data and user-data): host name, root's SSH keys, and a script run once as root.
/// </summary>
public sealed record FirstBootSettings
{
    public string? HostName { get; init; }
    public IReadOnlyList<string> SshPublicKeys { get; init; } = Array.Empty<string>();
    /// <summary>A script (a shell script when it has no #! line), run once as root at first boot.</summary>
    public string? UserData { get; init; }

    public bool IsEmpty => HostName is null && SshPublicKeys.Count == 0 && UserData is null;
}
