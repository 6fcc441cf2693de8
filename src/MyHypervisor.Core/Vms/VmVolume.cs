namespace MyHypervisor.Core.Vms;

/// <summary>
/// A host directory shared with the guest over virtiofs and mounted at /mnt/&lt;Tag&gt;.
/// Settable properties so PowerShell can build one from a hashtable: @{ Path = '/srv'; Tag = 'srv'; ReadOnly = $true }.
/// </summary>
public sealed class VmVolume
{
    public string Path { get; set; } = string.Empty;
    public string Tag { get; set; } = string.Empty;
    public bool ReadOnly { get; set; }

    public override string ToString() => $"{Path} -> /mnt/{Tag}{(ReadOnly ? " (ro)" : string.Empty)}";
}
