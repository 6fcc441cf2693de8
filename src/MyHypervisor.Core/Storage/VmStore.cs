using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// The VM folders under the state root: definition.json and state.json, both written atomically.
/// A corrupt file is an error for that VM only.
/// </summary>
public sealed class VmStore(MyHvPaths paths)
{
    public MyHvPaths Paths => paths;

    public bool Exists(string name) => File.Exists(paths.DefinitionFile(name));

    public IReadOnlyList<string> ListNames()
    {
        if (!Directory.Exists(paths.VmsRoot)) return Array.Empty<string>();
        return Directory.EnumerateDirectories(paths.VmsRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => VmNameRules.Problem(n) is null && Exists(n))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Creates the VM's folder with its definition and a Stopped state, all or nothing.</summary>
    public void Create(VmDefinition definition)
    {
        MyHvPaths.EnsurePrivateDirectory(paths.Home);
        MyHvPaths.EnsurePrivateDirectory(paths.VmsRoot);
        var final = paths.VmDirectory(definition.Name);
        var staging = Path.Combine(paths.VmsRoot, $".new-{definition.Name}-{Guid.NewGuid():N}");
        MyHvPaths.EnsurePrivateDirectory(staging);
        try
        {
            AtomicFile.WriteAllText(Path.Combine(staging, "definition.json"), JsonSerializer.Serialize(definition, Json.Options));
            AtomicFile.WriteAllText(Path.Combine(staging, "state.json"), JsonSerializer.Serialize(new VmState(), Json.Options));
            if (Directory.Exists(final))
                throw new MyHvException(MyHvErrorKind.InvalidVmName, $"A VM named '{definition.Name}' already exists.", definition.Name);
            Directory.Move(staging, final);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    public VmDefinition ReadDefinition(string name)
    {
        var file = paths.DefinitionFile(name);
        if (!File.Exists(file))
            throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        return Deserialize<VmDefinition>(name, file);
    }

    public VmState ReadState(string name)
    {
        var file = paths.StateFile(name);
        return File.Exists(file) ? Deserialize<VmState>(name, file) : new VmState();
    }

    /// <summary>The state file's raw text, kept by a start attempt so a rollback can write it back.</summary>
    public string? ReadStateText(string name)
    {
        var file = paths.StateFile(name);
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    /// <summary>Replaces the definition atomically (Set-MyVm): readers see the old one or the new, never a mix.</summary>
    public void WriteDefinition(VmDefinition definition) =>
        AtomicFile.WriteAllText(paths.DefinitionFile(definition.Name), JsonSerializer.Serialize(definition, Json.Options));

    public void WriteState(string name, VmState state, bool durable = true) =>
        AtomicFile.WriteAllText(paths.StateFile(name), JsonSerializer.Serialize(state, Json.Options), durable);

    public void Delete(string name)
    {
        var dir = paths.VmDirectory(name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    private static T Deserialize<T>(string name, string file)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(file), Json.Options)
                ?? throw new JsonException("the file is empty");
        }
        catch (JsonException e)
        {
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{name}': '{file}' is corrupt or truncated ({e.Message}). Other VMs are unaffected; " +
                $"Remove-MyVm -Name {name} -Force removes this one.", name, e);
        }
    }
}
