using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Storage;

/// <summary>
/// The VM folders under the state root: definition.json and state.json, both written atomically.
/// A VM is a folder with a valid name; a record that cannot be used (corrupt, null or missing
/// fields, not its folder's, a copy of another VM's, a removal that did not finish) is a
/// <see cref="VmRecordException"/> for that VM only.
/// </summary>
public sealed class VmStore(MyHvPaths paths)
{
    /// <summary>Written first by a removal and deleted last: a folder holding it is a removal to finish.</summary>
    public const string RemovalMarker = ".removing";

    private readonly Dictionary<string, (DateTime Written, long Length, Guid? Id)> ids = new(StringComparer.Ordinal);

    public MyHvPaths Paths => paths;

    /// <summary>True when the VM's folder exists (its record may still be unusable: see <see cref="ReadDefinition"/>).</summary>
    public bool Exists(string name) => Directory.Exists(paths.VmDirectory(name));

    public IReadOnlyList<string> ListNames()
    {
        if (!Directory.Exists(paths.VmsRoot)) return Array.Empty<string>();
        return Directory.EnumerateDirectories(paths.VmsRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => VmNameRules.Problem(n) is null)
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
                throw new MyHvException(MyHvErrorKind.InvalidVmName, ExistsMessage(definition.Name), definition.Name);
            StateWrite.Guard(final, () => Directory.Move(staging, final), definition.Name);
        }
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>"A VM named x already exists", with what to do when it is a removal that did not finish.</summary>
    public string ExistsMessage(string name) => IsBeingRemoved(name)
        ? $"A VM named '{name}' still exists: its removal did not finish (Get-MyVm shows it as Failed). Run Remove-MyVm -Name {name} to finish it."
        : $"A VM named '{name}' already exists.";

    public bool IsBeingRemoved(string name) => File.Exists(Path.Combine(paths.VmDirectory(name), RemovalMarker));

    /// <summary>The definition, checked: readable, complete, its folder's own, not a copy of another VM's.</summary>
    public VmDefinition ReadDefinition(string name)
    {
        var dir = paths.VmDirectory(name);
        var file = paths.DefinitionFile(name);
        if (!Directory.Exists(dir))
            throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        if (IsBeingRemoved(name))
            throw new VmRecordException(name, dir, $"its removal did not finish. Run Remove-MyVm -Name {name} (or Repair-MyVm -Name {name}) to finish it.");
        if (!File.Exists(file))
            throw new VmRecordException(name, file, $"the file is missing. Remove-MyVm -Name {name} -Force removes this VM's folder.");
        var definition = Deserialize<VmDefinition>(name, file);
        if (CopyOf(name, definition.Id) is { } owner)
            throw new VmRecordException(name, file,
                $"its id {definition.Id} already belongs to VM '{owner}': this folder looks copied by hand from '{owner}' " +
                $"(it would run with that VM's TAP device and MAC address). It is not used. To clone a VM, create a new one with " +
                $"New-MyVm (and copy the disk into its folder while both are stopped); Remove-MyVm -Name {name} -Force deletes only this folder.");
        if (RecordShape.DefinitionProblem(definition, name) is { } problem)
            throw new VmRecordException(name, file, $"{problem}. Remove-MyVm -Name {name} -Force removes this VM.");
        return definition;
    }

    public VmState ReadState(string name)
    {
        var file = paths.StateFile(name);
        if (!File.Exists(file)) return new VmState();
        var state = Deserialize<VmState>(name, file);
        if (RecordShape.StateProblem(state) is { } problem)
            throw new VmRecordException(name, file, $"{problem}. Remove-MyVm -Name {name} -Force removes this VM and its leftovers.");
        return state;
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

    /// <summary>
    /// Deletes the VM's folder: first the removal marker (so a removal that stops half-way is
    /// still listed, and finished by the next Remove-MyVm or Repair-MyVm), then every file, the
    /// marker and the folder last. A file that cannot be deleted is StateWriteFailed naming it.
    /// </summary>
    public void Delete(string name)
    {
        var dir = paths.VmDirectory(name);
        if (!Directory.Exists(dir)) return;
        var marker = Path.Combine(dir, RemovalMarker);
        StateWrite.Guard(marker, () =>
        {
            using var _ = new FileStream(marker, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }, name);
        DeleteTree(dir, keep: marker, name);
        StateWrite.Guard(marker, () => File.Delete(marker), name);
        if (Mono.Unix.Native.Syscall.rmdir(dir) != 0 && Mono.Unix.Native.Stdlib.GetLastError() is var errno && errno != Mono.Unix.Native.Errno.ENOENT)
            throw StateWrite.Failed(dir, new IOException(Mono.Unix.Native.Stdlib.strerror(errno)), name);
        lock (ids) { ids.Remove(name); idIndex = null; }
    }

    /// <summary>Deletes what is in <paramref name="dir"/> with unlink/rmdir, so a failure names the OS's exact reason.</summary>
    private static void DeleteTree(string dir, string keep, string name)
    {
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
        {
            if (entry.FullName == keep) continue;
            // A link is removed itself, never followed.
            var isFolder = entry is DirectoryInfo sub && sub.LinkTarget is null;
            if (isFolder) DeleteTree(entry.FullName, keep, name);
            var result = isFolder ? Mono.Unix.Native.Syscall.rmdir(entry.FullName) : Mono.Unix.Native.Syscall.unlink(entry.FullName);
            if (result != 0)
            {
                var errno = Mono.Unix.Native.Stdlib.GetLastError();
                if (errno == Mono.Unix.Native.Errno.ENOENT) continue;
                throw StateWrite.Failed(entry.FullName, new IOException(Mono.Unix.Native.Stdlib.strerror(errno)), name);
            }
        }
    }

    /// <summary>
    /// The VM that owns <paramref name="id"/> when the folder <paramref name="name"/> holds a copy
    /// of its definition, else null. The owner is the folder whose definition names it; between
    /// two folders that both do, the one whose definition file changed first (a copy is newer).
    /// </summary>
    private string? CopyOf(string name, Guid id)
    {
        var others = FoldersWithId(id).Where(n => n != name).ToList();
        if (others.Count == 0) return null;
        var mine = NameIn(name) == name;
        foreach (var other in others)
        {
            var theirs = NameIn(other) == other;
            if (theirs && !mine) return other;
            if (theirs == mine && ChangedAt(paths.DefinitionFile(other)) <= ChangedAt(paths.DefinitionFile(name))) return other;
        }
        return null;
    }

    /// <summary>
    /// The VM folders whose definitions hold <paramref name="id"/>, from an index of every folder's id
    /// kept while the vms folder is unchanged (a folder added, copied, renamed or removed changes its
    /// time): reading each of n definitions checks n folders once in all, not n times each, so
    /// listing 500 VMs costs per VM what listing 10 does.
    /// </summary>
    private IReadOnlyList<string> FoldersWithId(Guid id)
    {
        var written = Directory.GetLastWriteTimeUtc(paths.VmsRoot);
        Dictionary<Guid, List<string>>? index;
        lock (ids) index = idIndex is { } known && known.RootWritten == written ? known.Folders : null;
        if (index is null)
        {
            index = new Dictionary<Guid, List<string>>();
            foreach (var folder in ListNames())
                if (IdOf(folder) is { } folderId)
                {
                    if (!index.TryGetValue(folderId, out var list)) index[folderId] = list = new List<string>();
                    list.Add(folder);
                }
            lock (ids) idIndex = (written, index);
        }
        return index.TryGetValue(id, out var folders) ? folders : Array.Empty<string>();
    }

    private (DateTime RootWritten, Dictionary<Guid, List<string>> Folders)? idIndex;

    /// <summary>The id in a VM's definition, cached by file time and size (listing many VMs reads each file once).</summary>
    private Guid? IdOf(string name)
    {
        var file = paths.DefinitionFile(name);
        var info = new FileInfo(file);
        if (!info.Exists) return null;
        lock (ids)
            if (ids.TryGetValue(name, out var cached) && cached.Written == info.LastWriteTimeUtc && cached.Length == info.Length)
                return cached.Id;
        Guid? id = null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("id", out var value)
                && value.ValueKind == JsonValueKind.String && value.TryGetGuid(out var g)) id = g;
        }
        catch (Exception e) when (e is JsonException or IOException) { }
        lock (ids) ids[name] = (info.LastWriteTimeUtc, info.Length, id);
        return id;
    }

    private string? NameIn(string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(paths.DefinitionFile(name)));
            return doc.RootElement.TryGetProperty("name", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or IOException) { return null; }
    }

    private static long ChangedAt(string file) =>
        Mono.Unix.Native.Syscall.stat(file, out var st) == 0 ? st.st_ctime * 1_000_000_000L + st.st_ctime_nsec : long.MaxValue;

    private static T Deserialize<T>(string name, string file)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(file), Json.Options)
                ?? throw new JsonException("the file holds null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            throw new VmRecordException(name, file,
                $"it is corrupt or truncated ({e.Message}). Other VMs are unaffected; Remove-MyVm -Name {name} -Force removes this one.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmRecordException(name, file, $"it cannot be read ({StateWrite.CauseOf(e)}).", e);
        }
    }
}
