using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Changes;

/// <summary>
/// Turns a definition and a change request into the new definition, checked by the same rules as
/// New-MyVm (<see cref="VmSpecRules"/>: the new definition is validated as the spec it would have
/// been created from), and lists what changed. Writes nothing.
/// </summary>
public static class VmReconfiguration
{
    public sealed record Plan(VmDefinition Before, VmDefinition After, IReadOnlyList<string> Changes)
    {
        public bool Changed => Changes.Count > 0;
        public string Describe() => Changed ? string.Join("; ", Changes) : "no change";
    }

    public static Plan Apply(VmDefinition before, VmChangeRequest change, Func<string, bool> bridgeExists)
    {
        var name = before.Name;
        var net = before.Network;
        // -Bridge alone means a bridged network, as with New-MyVm.
        var mode = change.Network ?? (string.IsNullOrEmpty(change.Bridge) ? net.Mode : NetworkMode.Bridge);
        string? Keep(string? asked, string? had) => asked is null ? (mode == NetworkMode.Bridge ? had : null) : asked.Length == 0 ? null : asked;
        var bridge = Keep(change.Bridge, net.Bridge);
        var address = Keep(change.Address, net.Address);
        var gateway = Keep(change.Gateway, net.Gateway);

        var volumes = (change.Volumes ?? before.Volumes).ToList();
        foreach (var tag in change.RemoveVolumeTags)
        {
            if (volumes.RemoveAll(v => v.Tag == tag) == 0)
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"VM '{name}': it has no volume tagged '{tag}' to remove (its tags: {TagList(volumes)}).", name);
        }
        volumes.AddRange(change.AddVolumes);

        var kernelArguments = change.KernelArguments is null ? before.KernelArguments
            : change.KernelArguments.Length == 0 ? null : change.KernelArguments;
        var spec = new VmSpec
        {
            Name = name, Image = before.Image, Hypervisor = before.Hypervisor, Cpus = change.Cpus ?? before.Cpus, MemoryMiB = change.MemoryMiB ?? before.MemoryMiB,
            Network = mode, Bridge = bridge, Address = address, Gateway = gateway, Volumes = volumes, KernelArguments = kernelArguments,
            TranslationCacheMiB = change.DefaultTranslationCache ? null : change.TranslationCacheMiB ?? before.TranslationCacheMiB,
            FreePageReporting = change.DefaultFreePageReporting ? null : change.FreePageReporting ?? before.FreePageReporting,
        };
        // The bridge the VM already uses is not looked up again: only a new one must exist now.
        VmSpecRules.Validate(spec, b => (net.Mode == NetworkMode.Bridge && b == net.Bridge) || bridgeExists(b));
        // What the VM's engine can run (Cloud Hypervisor has no user-mode network), as New-MyVm checks it.
        Hypervisors.HypervisorRules.Validate(spec);

        var after = before with
        {
            Cpus = spec.Cpus,
            MemoryMiB = spec.MemoryMiB,
            Network = new VmNetwork
            {
                Mode = mode, Bridge = bridge, Address = address, Gateway = gateway,
                // Derived from the VM's id, so a VM that goes back to a network gets its old MAC and TAP name.
                MacAddress = mode == NetworkMode.None ? null : net.MacAddress ?? NetworkInterfaceNames.MacAddress(before.Id),
                TapName = mode == NetworkMode.Bridge ? net.TapName ?? NetworkInterfaceNames.TapName(before.Id) : null,
                // The SSH forward stays on the user network (a VM with keys that moves to it gets an automatic one).
                SshPort = mode == NetworkMode.User ? net.SshPort : null,
                SshPortAutomatic = mode == NetworkMode.User &&
                    (net.SshPortAutomatic || (net.Mode != NetworkMode.User && before.FirstBoot is { SshPublicKeys.Count: > 0 })),
            },
            Volumes = volumes.Select(v => new VmVolume { Path = Path.GetFullPath(v.Path), Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList(),
            KernelArguments = kernelArguments,
            TranslationCacheMiB = spec.TranslationCacheMiB,
            FreePageReporting = spec.FreePageReporting,
        };
        return new Plan(before, after, Differences(before, after));
    }

    private static List<string> Differences(VmDefinition a, VmDefinition b)
    {
        var changes = new List<string>();
        void Compare(string setting, object? x, object? y)
        {
            var left = Show(x);
            var right = Show(y);
            if (left != right) changes.Add($"{setting} {left} -> {right}");
        }
        Compare("Cpus", a.Cpus, b.Cpus);
        Compare("MemoryMiB", a.MemoryMiB, b.MemoryMiB);
        Compare("Network", a.Network.ToString(), b.Network.ToString());
        Compare("IPAddress", a.Network.Address, b.Network.Address);
        Compare("Gateway", a.Network.Gateway, b.Network.Gateway);
        Compare("Volumes", string.Join(", ", a.Volumes), string.Join(", ", b.Volumes));
        Compare("KernelArguments", a.KernelArguments, b.KernelArguments);
        Compare("TranslationCacheMiB", a.TranslationCacheMiB, b.TranslationCacheMiB);
        Compare("FreePageReporting", a.FreePageReporting, b.FreePageReporting);
        return changes;
    }

    private static string Show(object? value) => value switch
    {
        null => "(none)",
        string s when s.Length == 0 => "(none)",
        string s => s,
        _ => value.ToString() ?? "(none)",
    };

    private static string TagList(IEnumerable<VmVolume> volumes)
    {
        var tags = string.Join(", ", volumes.Select(v => v.Tag));
        return tags.Length == 0 ? "none" : tags;
    }
}
