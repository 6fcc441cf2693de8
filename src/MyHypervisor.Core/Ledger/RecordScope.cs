using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// What one VM's records may name, checked before any undo acts on a record read from disk
/// (state.json, the start journal): a record is a plan to delete, unmount or signal something,
/// and a hand-edited or copied one must never reach outside its VM. Paths must lie in the VM's
/// own folder or runtime folder after resolving symbolic links (the helper lock files the
/// contract names are the one exception: directly under /run/virtiofsd, named after a socket in
/// the runtime folder); TAP devices must have the module's prefix and be the definition's own;
/// processes must be the module's programs, found by a marker naming a path in the runtime folder.
/// </summary>
public sealed class RecordScope
{
    /// <summary>The programs the module starts (executable file names).</summary>
    public static readonly IReadOnlySet<string> KnownPrograms = new HashSet<string>(StringComparer.Ordinal)
    {
        Hypervisors.Qemu.QemuDriver.Executable, Volumes.VirtiofsdLauncher.ProgramName,
        Hypervisors.CloudHypervisor.CloudHypervisorDriver.Executable,
    };

    private const string HelperLockFolder = "/run/virtiofsd";
    private readonly MyHvPaths paths;
    private readonly string vmName;
    private readonly string? tapName;

    public RecordScope(MyHvPaths paths, string vmName, string? tapName)
    {
        this.paths = paths;
        this.vmName = vmName;
        this.tapName = tapName;
    }

    private string VmDirectory => paths.VmDirectory(vmName);
    private string RuntimeDirectory => paths.RuntimeDirectory(vmName);

    /// <summary>Why the record must not be acted on, or null when it is within this VM's reach.</summary>
    public string? Problem(ArtifactRecord record)
    {
        if (record is null) return "the record is null";
        return record.Kind switch
        {
            ArtifactKind.OverlayDisk => ExactPath(record.Path, paths.OverlayFile(vmName)),
            ArtifactKind.CommittedState => ExactPath(record.Path, paths.StateFile(vmName)),
            ArtifactKind.ReplacedDefinition => ExactPath(record.Path, paths.DefinitionFile(vmName)) ?? OwnDefinition(record.PreviousContent),
            ArtifactKind.CheckpointSnapshot or ArtifactKind.DiskUndoPoint => Snapshot(record),
            ArtifactKind.File => PathInside(record.Path, keepLast: true, allowRoot: false, VmDirectory, RuntimeDirectory),
            ArtifactKind.Directory => PathInside(record.Path, keepLast: false, allowRoot: true, RuntimeDirectory),
            ArtifactKind.Mount => PathInside(record.Path, keepLast: false, allowRoot: false, RuntimeDirectory),
            ArtifactKind.HelperLockFile => HelperLockFile(record.Path),
            ArtifactKind.TapDevice => Tap(record.Name),
            ArtifactKind.Process => Process(record),
            _ => $"unknown artifact kind '{record.Kind}'",
        };
    }

    /// <summary>A snapshot record names this VM's own disk, a valid tag, and (if any) this VM's own QMP socket.</summary>
    private string? Snapshot(ArtifactRecord record)
    {
        if (ExactPath(record.Path, paths.OverlayFile(vmName)) is { } problem) return problem;
        if (record.Socket is not null && ExactPath(record.Socket, paths.ApiSocket(vmName)) is { } socketProblem) return socketProblem;
        var tag = record.Name ?? "";
        var ownTag = record.Kind == ArtifactKind.DiskUndoPoint
            ? tag.StartsWith(Checkpoints.CheckpointNameRules.ReservedPrefix, StringComparison.Ordinal) && Checkpoints.CheckpointNameRules.Problem("x" + tag) is null
            : Checkpoints.CheckpointNameRules.Problem(tag) is null;
        return ownTag ? null : $"'{Checkpoints.CheckpointNameRules.Printable(tag)}' is not a snapshot tag this module makes";
    }

    /// <summary>The text a definition's undo would write back must be a definition of this VM (its name), never any text.</summary>
    private string? OwnDefinition(string? content)
    {
        if (content is null) return "it holds no earlier definition";
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(content);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("name", out var name)
                && name.ValueKind == System.Text.Json.JsonValueKind.String && name.GetString() == vmName
                ? null : $"the earlier definition it holds is not VM '{vmName}''s";
        }
        catch (System.Text.Json.JsonException) { return "the earlier definition it holds is not JSON"; }
    }

    private static string? Canonical(string? path) =>
        string.IsNullOrEmpty(path) ? "it names no path"
        : !ProcessMarkers.IsCanonical(path) ? $"'{path}' is not a canonical absolute path"
        : null;

    private static string? ExactPath(string? path, string expected)
    {
        if (Canonical(path) is { } problem) return problem;
        if (path != expected) return $"'{path}' is not {expected}";
        return RealPath.Resolve(path!, keepLastComponent: true) == RealPath.Resolve(expected, keepLastComponent: true)
            ? null : $"'{path}' leads elsewhere through a symbolic link";
    }

    private string? PathInside(string? path, bool keepLast, bool allowRoot, params string[] roots)
    {
        if (Canonical(path) is { } problem) return problem;
        var real = RealPath.Resolve(path!, keepLast);
        foreach (var root in roots)
        {
            // Compared both as written and as resolved: a link inside the home that points out of
            // it is refused. The VM's own folder is never followed itself: if it is a link, what it
            // leads to is not the VM's.
            var realRoot = RealPath.Resolve(root, keepLastComponent: true);
            var written = allowRoot ? RealPath.IsAtOrUnder(path!, root) : path!.StartsWith(root + "/", StringComparison.Ordinal);
            var resolved = allowRoot ? RealPath.IsAtOrUnder(real, realRoot) : real.StartsWith(realRoot + "/", StringComparison.Ordinal);
            if (written && resolved) return null;
            if (written) return $"'{path}' leads to '{real}' through a symbolic link, outside {root}";
        }
        return $"'{path}' is outside this VM's folders ({string.Join(", ", roots)})";
    }

    private string? HelperLockFile(string? path)
    {
        if (Canonical(path) is { } problem) return problem;
        if (Path.GetDirectoryName(path) != HelperLockFolder)
            return $"'{path}' is neither in this VM's folders nor a helper lock file under {HelperLockFolder}";
        var prefix = RuntimeDirectory.Replace('/', '.') + ".";
        var name = Path.GetFileName(path!);
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(".pid", StringComparison.Ordinal))
            return $"'{path}' is not the lock file of a helper socket in {RuntimeDirectory}";
        var realFolder = RealPath.Resolve(HelperLockFolder);
        return realFolder == HelperLockFolder ? null : $"{HelperLockFolder} leads to '{realFolder}' through a symbolic link";
    }

    private string? Tap(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "it names no device";
        if (!NetworkInterfaceNames.IsValid(name)) return $"'{name}' is not a valid interface name";
        if (!name.StartsWith(NetworkInterfaceNames.TapPrefix, StringComparison.Ordinal))
            return $"'{name}' does not have the module's TAP prefix '{NetworkInterfaceNames.TapPrefix}'";
        if (tapName is null) return $"the definition of VM '{vmName}' names no TAP device, so '{name}' is not its own";
        return name == tapName ? null : $"'{name}' is not this VM's TAP device ({tapName})";
    }

    private string? Process(ArtifactRecord record)
    {
        var program = string.IsNullOrEmpty(record.Program) ? null : Path.GetFileName(record.Program);
        if (program is null || !KnownPrograms.Contains(program))
            return $"the program '{record.Program}' is not one the module starts ({string.Join(", ", KnownPrograms)})";
        if (ProcessMarkers.Problem(record.Marker) is { } markerProblem) return markerProblem;
        var markerPath = ProcessMarkers.PathOf(record.Marker!.TrimEnd('/'))!;
        var inside = record.Marker.EndsWith('/')
            ? RealPath.IsAtOrUnder(markerPath, RuntimeDirectory)
            : markerPath.StartsWith(RuntimeDirectory + "/", StringComparison.Ordinal);
        if (!inside) return $"the marker '{record.Marker}' names no path in this VM's runtime folder {RuntimeDirectory}";
        if (record.Process is { } identity && Path.GetFileName(identity.Executable ?? string.Empty) != program)
            return $"the recorded process runs '{identity.Executable}', not {program}";
        return null;
    }
}
