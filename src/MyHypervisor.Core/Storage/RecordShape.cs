using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// What the JSON deserializer lets through but the module cannot use: nulls where a value is
/// needed, numbers that name no enum member, a definition that does not belong to its folder.
/// Each check names the field (JSON path), so a hand-edited file can be fixed.
/// </summary>
public static class RecordShape
{
    /// <summary>The first problem with a definition read from the folder <paramref name="folderName"/>, or null.</summary>
    public static string? DefinitionProblem(VmDefinition d, string folderName)
    {
        if (d.Name is null) return "field 'name' is null";
        if (d.Name != folderName)
            return $"field 'name' is '{d.Name}' but the folder is '{folderName}' (a definition must be in the folder of its own name)";
        if (VmNameRules.Problem(d.Name) is { } nameProblem) return $"field 'name': {nameProblem}";
        if (d.Id == Guid.Empty) return "field 'id' is empty";
        if (d.Image is null) return "field 'image' is null";
        if (d.ImagePath is null) return "field 'imagePath' is null";
        if (d.Hypervisor is null) return "field 'hypervisor' is null";
        if (d.Network is null) return "field 'network' is null";
        if (!Enum.IsDefined(d.Network.Mode)) return $"field 'network.mode' is {(int)d.Network.Mode}, not a network mode";
        if (d.Network.Mode == NetworkMode.Bridge && (d.Network.Bridge is null || !NetworkInterfaceNames.IsValid(d.Network.Bridge)))
            return $"field 'network.bridge' is '{d.Network.Bridge}', not an interface name";
        if (d.Network.TapName is { } tap && tap != NetworkInterfaceNames.TapName(d.Id))
            return $"field 'network.tapName' is '{tap}', not this VM's TAP device ({NetworkInterfaceNames.TapName(d.Id)})";
        if (d.Network.Mode == NetworkMode.Bridge && d.Network.TapName is null) return "field 'network.tapName' is null";
        if (d.Volumes is null) return "field 'volumes' is null";
        if (Hypervisors.Qemu.TcgMemorySettings.Problem(d.TranslationCacheMiB) is not null)
            return $"field 'translationCacheMiB' is {d.TranslationCacheMiB}, not 0 or {Hypervisors.Qemu.TcgMemorySettings.MinTranslationCacheMiB}-{Hypervisors.Qemu.TcgMemorySettings.MaxTranslationCacheMiB}";
        for (var i = 0; i < d.Volumes.Count; i++)
        {
            var v = d.Volumes[i];
            if (v is null) return $"field 'volumes[{i}]' is null";
            if (v.Path is null) return $"field 'volumes[{i}].path' is null";
            if (v.Tag is null) return $"field 'volumes[{i}].tag' is null";
        }
        return null;
    }

    /// <summary>The first problem with a checkpoint's record read from the file of checkpoint <paramref name="checkpointName"/>, or null.</summary>
    public static string? CheckpointProblem(Checkpoints.CheckpointRecord? r, string checkpointName)
    {
        if (r is null) return "the file holds null";
        if (r.CheckpointName is null) return "field 'checkpointName' is null";
        if (r.CheckpointName != checkpointName)
            return $"field 'checkpointName' is '{Checkpoints.CheckpointNameRules.Printable(r.CheckpointName)}' but the file is the record of checkpoint '{checkpointName}'";
        if (r.Shape is null) return "field 'shape' is null";
        return r.Shape.Problem();
    }

    /// <summary>The first problem with a state, or null.</summary>
    public static string? StateProblem(VmState s)
    {
        if (!Enum.IsDefined(s.Status)) return $"field 'status' is {(int)s.Status}, not a status";
        if (s.Artifacts is null) return "field 'artifacts' is null";
        for (var i = 0; i < s.Artifacts.Count; i++)
        {
            var a = s.Artifacts[i];
            if (a is null) return $"field 'artifacts[{i}]' is null";
            if (!Enum.IsDefined(a.Kind)) return $"field 'artifacts[{i}].kind' is {(int)a.Kind}, not an artifact kind";
            if (!Enum.IsDefined(a.Scope)) return $"field 'artifacts[{i}].scope' is {(int)a.Scope}, not a scope";
            if (a.Step is null) return $"field 'artifacts[{i}].step' is null";
        }
        if (s.Hypervisor is { } h && (h.Pid <= 0 || h.BootId is null))
            return "field 'hypervisor' names no process (pid and bootId are needed)";
        if (s.StopMethod is { } m && !Enum.IsDefined(m)) return $"field 'stopMethod' is {(int)m}, not a stop method";
        return null;
    }
}
