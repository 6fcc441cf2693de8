using MyHypervisor.Core.Changes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// The settings of a VM that a memory checkpoint's saved state depends on: those that change the
/// virtual machine QEMU builds (how many CPUs, how much RAM, whether there is a NIC, the virtiofs
/// devices), so QEMU can load the state only into a machine built from the same values (measured:
/// another memory size fails with "Size mismatch: pc.ram", another CPU count with "Missing section
/// footer", no NIC with "Unknown ramblock ... virtio-net-pci.rom"). The network's bridge and
/// addresses do not change the device model, but the saved guest has configured itself for them, so
/// they go with the mode. Settings that leave the machine as it is (TranslationCacheMiB, QEMU's TCG
/// buffer; KernelArguments, read only at a boot) are not part of it: a restore loads fine with others.
/// Every member is nullable so that a hand-edited record with a null is reported by field name.
/// To add a setting (a device such as a balloon): a member here, a line in <see cref="Of"/>, and an
/// entry in <see cref="Settings"/>. Records written before it existed lack it, so its entry reads
/// null as the value every machine had then (no such device), not as a problem.
/// </summary>
public sealed record MachineShape
{
    public int? Cpus { get; init; }
    public int? MemoryMiB { get; init; }
    public MachineShapeNetwork? Network { get; init; }
    public IReadOnlyList<VmVolume>? Volumes { get; init; }
    /// <summary>
    /// Whether the VM had the free-page-reporting balloon under TCG (its setting, the default
    /// applied): a state saved with the device loads only into a machine with it. Null in records
    /// written before the balloon existed: nothing to put back (a state saved without the device
    /// loads into a machine with it, as it is added after every other device).
    /// </summary>
    public bool? FreePageReporting { get; init; }

    /// <summary>The shape of the machine a definition builds.</summary>
    public static MachineShape Of(VmDefinition d) => new()
    {
        Cpus = d.Cpus,
        MemoryMiB = d.MemoryMiB,
        Network = new MachineShapeNetwork { Mode = d.Network.Mode, Bridge = d.Network.Bridge, Address = d.Network.Address, Gateway = d.Network.Gateway },
        Volumes = d.Volumes.Select(v => new VmVolume { Path = v.Path, Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList(),
        FreePageReporting = d.FreePageReporting ?? Hypervisors.Qemu.TcgMemorySettings.DefaultFreePageReporting,
    };

    /// <summary>One setting of the shape: how a record's value is checked, and how it is asked of Set-MyVm's rules to put it back.</summary>
    private sealed record Setting(Func<MachineShape, string?> Problem, Func<VmChangeRequest, MachineShape, VmChangeRequest> PutBack);

    private static readonly Setting[] Settings =
    {
        new(s => Range("cpus", s.Cpus, VmSpecRules.MinCpus, VmSpecRules.MaxCpus), (c, s) => c with { Cpus = s.Cpus }),
        new(s => Range("memoryMiB", s.MemoryMiB, VmSpecRules.MinMemoryMiB, VmSpecRules.MaxMemoryMiB), (c, s) => c with { MemoryMiB = s.MemoryMiB }),
        new(s => NetworkProblem(s.Network), (c, s) => c with
        {
            Network = s.Network!.Mode,
            // Set-MyVm's rules clear these for a network other than Bridge; an empty text clears them for a bridge without them.
            Bridge = s.Network.Mode == NetworkMode.Bridge ? s.Network.Bridge : null,
            Address = s.Network.Mode == NetworkMode.Bridge ? s.Network.Address ?? "" : null,
            Gateway = s.Network.Mode == NetworkMode.Bridge ? s.Network.Gateway ?? "" : null,
        }),
        new(s => VolumesProblem(s.Volumes), (c, s) => c with { Volumes = s.Volumes!.Select(v => new VmVolume { Path = v.Path, Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList() }),
        // The default is put back as the default (no setting), so a VM that never set it shows no change.
        new(_ => null, (c, s) => s.FreePageReporting is not { } on ? c
            : on == Hypervisors.Qemu.TcgMemorySettings.DefaultFreePageReporting ? c with { DefaultFreePageReporting = true }
            : c with { FreePageReporting = on }),
    };

    /// <summary>For people: "2 CPUs, 128 MiB, network Bridge mhbr0 10.0.0.2/24, volumes data, share:ro, balloon".</summary>
    public string Describe()
    {
        var parts = new List<string> { Cpus == 1 ? "1 CPU" : $"{Cpus} CPUs", $"{MemoryMiB} MiB" };
        if (Network is { } n)
            parts.Add(string.Join(' ', new[] { "network", n.Mode?.ToString(), n.Bridge, n.Address }.Where(t => !string.IsNullOrEmpty(t))));
        parts.Add(Volumes is { Count: > 0 } v ? "volumes " + string.Join(", ", v.Select(x => x.ReadOnly ? $"{x.Tag}:ro" : x.Tag)) : "no volumes");
        if (FreePageReporting is { } balloon) parts.Add(balloon ? "balloon" : "no balloon");
        return string.Join(", ", parts);
    }

    /// <summary>The first problem with a shape read from a record (field names as in the file, under 'shape.'), or null.</summary>
    public string? Problem() => Settings.Select(s => s.Problem(this)).FirstOrDefault(p => p is not null);

    /// <summary>The Set-MyVm change that gives a definition this shape (the shape must have no <see cref="Problem"/>).</summary>
    public VmChangeRequest ToChange() => Settings.Aggregate(new VmChangeRequest(), (change, s) => s.PutBack(change, this));

    private static string? Range(string field, int? value, int min, int max) =>
        value is null ? $"field 'shape.{field}' is null"
        : value < min || value > max ? $"field 'shape.{field}' is {value}, not {min}-{max}"
        : null;

    private static string? NetworkProblem(MachineShapeNetwork? n)
    {
        if (n is null) return "field 'shape.network' is null";
        if (n.Mode is not { } mode) return "field 'shape.network.mode' is null";
        if (!Enum.IsDefined(mode)) return $"field 'shape.network.mode' is {(int)mode}, not a network mode";
        if (mode == NetworkMode.Bridge && (n.Bridge is null || !Networking.NetworkInterfaceNames.IsValid(n.Bridge)))
            return $"field 'shape.network.bridge' is '{n.Bridge}', not an interface name";
        if (mode != NetworkMode.Bridge && (n.Bridge ?? n.Address ?? n.Gateway) is not null)
            return "fields 'shape.network.bridge', 'address' and 'gateway' apply to the Bridge network only";
        if (n.Address is { } address && !VmSpecRules.IsCidr(address)) return $"field 'shape.network.address' is '{address}', not an IPv4 address with a prefix";
        if (n.Gateway is { } gateway && !VmSpecRules.IsDottedQuad(gateway)) return $"field 'shape.network.gateway' is '{gateway}', not an IPv4 address";
        return null;
    }

    private static string? VolumesProblem(IReadOnlyList<VmVolume>? volumes)
    {
        if (volumes is null) return "field 'shape.volumes' is null";
        for (var i = 0; i < volumes.Count; i++)
        {
            var v = volumes[i];
            if (v is null) return $"field 'shape.volumes[{i}]' is null";
            if (v.Path is null || !Path.IsPathFullyQualified(v.Path)) return $"field 'shape.volumes[{i}].path' is '{v.Path}', not an absolute path";
            if (v.Tag is null || !VmSpecRules.IsSafeTag(v.Tag)) return $"field 'shape.volumes[{i}].tag' is '{v.Tag}', not a volume tag";
        }
        return null;
    }
}

/// <summary>The network part of a <see cref="MachineShape"/>.</summary>
public sealed record MachineShapeNetwork
{
    public NetworkMode? Mode { get; init; }
    public string? Bridge { get; init; }
    public string? Address { get; init; }
    public string? Gateway { get; init; }
}
