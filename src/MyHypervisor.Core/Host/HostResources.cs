using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Host;

/// <summary>
/// What this host offers for placing VMs: CPUs, memory, the memory its VMs hold, its images and
/// accelerator, and its VMs counted by status. Allocation is counted as schedulers count it (the
/// memory of the VMs that run here), not read from the kernel's free memory, which moves with
/// page cache and is the same for every network namespace of one machine.
/// </summary>
public sealed record HostResources
{
    public required int Cpus { get; init; }
    public required long MemoryMiB { get; init; }
    /// <summary>The kernel's MemAvailable: shown for information, never used for placement.</summary>
    public required long MemoryAvailableMiB { get; init; }
    /// <summary>Memory of the VMs that hold it: running, starting, paused or stopping.</summary>
    public required long AllocatedMiB { get; init; }
    public required IReadOnlyDictionary<string, int> VmCounts { get; init; }
    public required IReadOnlyList<string> Images { get; init; }
    /// <summary>kvm or tcg: the setting or the cached probe; null when auto has not probed yet.</summary>
    public string? Accelerator { get; init; }
    public required bool KvmDevice { get; init; }

    /// <summary>Statuses whose VMs hold their memory.</summary>
    public static bool HoldsMemory(VmStatus status) =>
        status is VmStatus.Running or VmStatus.Starting or VmStatus.Paused or VmStatus.Stopping;

    public static HostResources Measure(VmManager manager, OperationContext context)
    {
        var vms = manager.ListNames().Select(name => manager.Get(name, context)).ToList();
        return new HostResources
        {
            Cpus = Environment.ProcessorCount,
            MemoryMiB = MemInfoMiB("MemTotal"),
            MemoryAvailableMiB = MemInfoMiB("MemAvailable"),
            AllocatedMiB = vms.Where(vm => HoldsMemory(vm.Status)).Sum(vm => (long)vm.MemoryMiB),
            VmCounts = vms.GroupBy(vm => vm.Status.ToString()).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            Images = ImageNames(manager.Paths),
            Accelerator = new Hypervisors.AcceleratorSelector(manager.Paths).Known(),
            KvmDevice = File.Exists("/dev/kvm"),
        };
    }

    /// <summary>
    /// The usable images' names, first of a name wins. Unlike ImageCatalog.List, one folder with
    /// an unusable manifest does not hide the others: a host is described, not refused.
    /// </summary>
    private static IReadOnlyList<string> ImageNames(Configuration.MyHvPaths paths)
    {
        var names = new List<string>();
        foreach (var root in Configuration.ImageSearchPath.Folders(paths).Where(Directory.Exists))
        {
            IEnumerable<string> folders;
            try { folders = Directory.EnumerateDirectories(root).Where(f => !Path.GetFileName(f).StartsWith('.')).ToList(); }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException) { continue; }
            foreach (var folder in folders)
            {
                try
                {
                    if (Core.Images.ImageCatalog.TryLoad(folder) is { } image && !names.Contains(image.Name)) names.Add(image.Name);
                }
                catch (Errors.MyHvException) { }
            }
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>A /proc/meminfo field ("MemTotal:  24576000 kB") in MiB; 0 when absent.</summary>
    private static long MemInfoMiB(string field)
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts.Length >= 2 && long.TryParse(parts[1], out var kib) ? kib / 1024 : 0;
        }
        return 0;
    }
}
