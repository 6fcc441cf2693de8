using System.Management.Automation;
using MyHypervisor.Core.Host;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>One VM host as Get-MyVmHost shows it: how it is reached, whether it answers, and what it has room for.</summary>
public sealed class VmHostInfo
{
    public required string Name { get; init; }
    public required string HostName { get; init; }
    public string? UserName { get; init; }
    public int? Port { get; init; }
    public bool Reachable { get; init; }
    /// <summary>Why the host is not reachable (ssh's own words), or null.</summary>
    public string? Reason { get; init; }
    public int? Cpus { get; init; }
    public long? MemoryMiB { get; init; }
    /// <summary>The kernel's MemAvailable, for information: placement uses UnallocatedMiB.</summary>
    public long? MemoryAvailableMiB { get; init; }
    /// <summary>The memory placement may hand out: Connect-MyVmHost -MemoryCapacityMiB, else MemoryMiB.</summary>
    public long? MemoryCapacityMiB { get; init; }
    /// <summary>Memory of the VMs running, starting, paused or stopping there.</summary>
    public long? AllocatedMiB { get; init; }
    public long? UnallocatedMiB => MemoryCapacityMiB is { } capacity && AllocatedMiB is { } allocated ? capacity - allocated : null;
    public string? Accelerator { get; init; }
    public bool KvmDevice { get; init; }
    public int Running { get; init; }
    public int Stopped { get; init; }
    public int VmCount { get; init; }
    /// <summary>"Running 2, Stopped 1".</summary>
    public string Vms { get; init; } = "";
    public string[] Images { get; init; } = Array.Empty<string>();
    public string? ModuleVersion { get; init; }

    public override string ToString() => Name;

    public static VmHostInfo Unreachable(VmHostConnection host, string reason) => new()
    {
        Name = host.Name, HostName = host.HostName, UserName = host.UserName, Port = host.Port, Reachable = false, Reason = reason,
        MemoryCapacityMiB = host.MemoryCapacityMiB, ModuleVersion = host.ModuleVersion,
    };

    public static VmHostInfo FromResources(VmHostConnection host, HostResources resources, string? moduleVersion)
    {
        var counts = resources.VmCounts;
        return new VmHostInfo
        {
            Name = host.Name, HostName = host.HostName, UserName = host.UserName, Port = host.Port, Reachable = true,
            Cpus = resources.Cpus, MemoryMiB = resources.MemoryMiB, MemoryAvailableMiB = resources.MemoryAvailableMiB,
            MemoryCapacityMiB = host.MemoryCapacityMiB ?? resources.MemoryMiB, AllocatedMiB = resources.AllocatedMiB,
            Accelerator = resources.Accelerator ?? "auto", KvmDevice = resources.KvmDevice,
            Running = counts.GetValueOrDefault("Running"), Stopped = counts.GetValueOrDefault("Stopped"), VmCount = counts.Values.Sum(),
            Vms = string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}")),
            Images = resources.Images.ToArray(), ModuleVersion = moduleVersion,
        };
    }

    /// <summary>A host's own view of itself (its Get-MyVmHost localhost, deserialized), under our name and capacity for it.</summary>
    public static VmHostInfo FromRemote(VmHostConnection host, PSObject remote)
    {
        var images = remote.Properties["Images"]?.Value switch
        {
            PSObject { BaseObject: System.Collections.IEnumerable list } => list.Cast<object>().Select(o => o.ToString()!).ToArray(),
            System.Collections.IEnumerable list and not string => list.Cast<object>().Select(o => o.ToString()!).ToArray(),
            _ => Array.Empty<string>(),
        };
        var memory = FleetObjects.Number(remote, "MemoryMiB");
        return new VmHostInfo
        {
            Name = host.Name, HostName = host.HostName, UserName = host.UserName, Port = host.Port, Reachable = true,
            Cpus = (int)FleetObjects.Number(remote, "Cpus"), MemoryMiB = memory, MemoryAvailableMiB = FleetObjects.Number(remote, "MemoryAvailableMiB"),
            MemoryCapacityMiB = host.MemoryCapacityMiB ?? memory, AllocatedMiB = FleetObjects.Number(remote, "AllocatedMiB"),
            Accelerator = FleetObjects.Text(remote, "Accelerator"), KvmDevice = FleetObjects.Text(remote, "KvmDevice") == "True",
            Running = (int)FleetObjects.Number(remote, "Running"), Stopped = (int)FleetObjects.Number(remote, "Stopped"),
            VmCount = (int)FleetObjects.Number(remote, "VmCount"), Vms = FleetObjects.Text(remote, "Vms") ?? "",
            Images = images, ModuleVersion = FleetObjects.Text(remote, "ModuleVersion") ?? host.ModuleVersion,
        };
    }
}
