using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Orphans;

/// <summary>
/// The VM records of one home, read once per census: the folder names under vms/ and the ids of
/// the definitions that can be read. A folder whose definition cannot be read still counts as a
/// record for its name, and then every id under that name is treated as recorded: an unreadable
/// record is a reason to leave things alone, never to remove them.
/// </summary>
internal sealed class HomeRecords
{
    private readonly HashSet<string> names;
    private readonly Dictionary<Guid, string> ids = new();
    private readonly HashSet<string> unreadable = new(StringComparer.Ordinal);

    public HomeRecords(MyHvPaths paths)
    {
        var store = new VmStore(paths);
        names = new HashSet<string>(SafeListNames(paths), StringComparer.Ordinal);
        foreach (var name in names)
        {
            try { ids[store.ReadDefinition(name).Id] = name; }
            catch (Exception) { unreadable.Add(name); }
        }
    }

    /// <summary>True when a record holds this VM: its id, or an unreadable record of its name.</summary>
    public bool Holds(Guid id, string name) => ids.ContainsKey(id) || unreadable.Contains(name);

    /// <summary>True when vms/&lt;name&gt; exists (the run folder, mounts and lock files of that name are its).</summary>
    public bool HasName(string name) => names.Contains(name);

    private static IEnumerable<string> SafeListNames(MyHvPaths paths)
    {
        if (!Directory.Exists(paths.VmsRoot)) return Array.Empty<string>();
        // Every folder, valid name or not: a hand-made folder is somebody's record to leave alone.
        return Directory.EnumerateDirectories(paths.VmsRoot).Select(Path.GetFileName).OfType<string>().ToList();
    }
}
