namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Where a new VM goes among several hosts: the reachable host with the most unallocated memory
/// (its capacity minus the memory of its VMs that hold memory) among those with the image and the
/// accelerator asked for, if the VM fits there. Ties go to the host named first.
/// </summary>
public static class VmPlacement
{
    public sealed record Choice(VmHostInfo? Host, string Why);

    public static Choice Choose(IReadOnlyList<VmHostInfo> hosts, long memoryMiB, string image, string? accelerator)
    {
        var notes = new List<string>();
        var candidates = new List<VmHostInfo>();
        foreach (var host in hosts)
        {
            if (!host.Reachable) { notes.Add($"{host.Name}: unreachable"); continue; }
            // A path is the same folder on every host only by chance: it is looked for there, as a name is.
            if (!image.Contains('/') && !host.Images.Contains(image, StringComparer.Ordinal)) { notes.Add($"{host.Name}: no image '{image}'"); continue; }
            if (accelerator == "kvm" && !host.KvmDevice) { notes.Add($"{host.Name}: no KVM"); continue; }
            candidates.Add(host);
        }
        var ranked = candidates.OrderByDescending(h => h.UnallocatedMiB ?? 0).ToList();
        var table = string.Join(", ", ranked.Select(h => $"{h.Name} {h.UnallocatedMiB} of {h.MemoryCapacityMiB} MiB unallocated").Concat(notes));
        var best = ranked.FirstOrDefault();
        if (best is null || (best.UnallocatedMiB ?? 0) < memoryMiB)
            return new Choice(null, $"no host has room for {memoryMiB} MiB with image '{image}'{(accelerator == "kvm" ? " and KVM" : "")} ({table}). " +
                "Stop a VM, give a host more capacity (Connect-MyVmHost -MemoryCapacityMiB), or connect another host.");
        return new Choice(best, $"it has the most unallocated memory ({table}); the VM needs {memoryMiB} MiB");
    }
}
