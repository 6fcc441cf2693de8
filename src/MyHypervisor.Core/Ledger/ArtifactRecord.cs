using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// One entry of the artifact ledger: what a step is about to create and everything its undo needs.
/// Written before the artifact exists (intent) and again with details once it does (a pid).
/// </summary>
public sealed record ArtifactRecord
{
    public int Seq { get; init; }
    public required ArtifactKind Kind { get; init; }
    public required string Step { get; init; }
    public ArtifactScope Scope { get; init; } = ArtifactScope.Run;
    public string? Path { get; init; }
    /// <summary>A device name (TAP); for a Mount, the folder mounted.</summary>
    public string? Name { get; init; }
    /// <summary>A started process, once its pid is known.</summary>
    public ProcessIdentity? Process { get; init; }
    /// <summary>Text on the process's command line that finds it even when the pid was never recorded.</summary>
    public string? Marker { get; init; }
    /// <summary>The program's file name, so a marker search only matches that program.</summary>
    public string? Program { get; init; }
    /// <summary>For CommittedState and ReplacedDefinition: the file's content before the attempt.</summary>
    public string? PreviousContent { get; init; }
    /// <summary>The start attempt that wrote this record (CommittedState undoes only its own commit).</summary>
    public Guid? Attempt { get; init; }
    /// <summary>For a CheckpointSnapshot taken while the VM ran: its QMP socket, through which the undo goes while QEMU still runs.</summary>
    public string? Socket { get; init; }

    public string Describe() => Kind switch
    {
        ArtifactKind.Process => $"{Program ?? "process"} {(Process is null ? "(pid not yet known)" : $"pid {Process.Pid}")}",
        ArtifactKind.TapDevice => $"TAP device {Name}",
        ArtifactKind.CommittedState => "committed state",
        ArtifactKind.OverlayDisk => $"disk overlay {Path}",
        ArtifactKind.HelperLockFile => $"helper lock file {Path}",
        ArtifactKind.Directory => $"directory {Path}",
        ArtifactKind.CheckpointSnapshot => $"checkpoint '{Name}' in {Path}",
        ArtifactKind.DiskUndoPoint => $"undo point '{Name}' of {Path}",
        ArtifactKind.ReplacedDefinition => $"definition {Path} as the restored checkpoint's",
        ArtifactKind.Mount => $"read-only bind mount {Path}{(Name is null ? "" : $" of {Name}")}",
        _ => $"file {Path}",
    };
}
