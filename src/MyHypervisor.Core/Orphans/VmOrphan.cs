using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Orphans;

/// <summary>
/// One artifact that belongs to no VM record: what it is, whose it was (as the artifact itself
/// says), and why it is an orphan. <see cref="IsCurrentHome"/> false: another home's, only reported.
/// </summary>
public sealed class VmOrphan
{
    public required OrphanKind Kind { get; init; }
    /// <summary>The home the artifact belongs to.</summary>
    public required string Home { get; init; }
    public required bool IsCurrentHome { get; init; }
    /// <summary>The VM's name, as the artifact names it.</summary>
    public string? VmName { get; init; }
    /// <summary>The VM's id, when the artifact carries it (processes and TAP devices).</summary>
    public Guid? VmId { get; init; }
    /// <summary>The path, device name or program that identifies the artifact.</summary>
    public required string Target { get; init; }
    public int? Pid { get; init; }
    public string? Program { get; init; }
    public required string Reason { get; init; }
    /// <summary>The process as found (pid, start time, boot): the signal goes only to exactly this one.</summary>
    internal ProcessIdentity? Process { get; init; }
    /// <summary>The mark the artifact carried when found: checked again right before it is removed.</summary>
    internal OwnerMark? Mark { get; init; }

    /// <summary>The ledger record whose undo removes this artifact: orphans go through the same undo code as every rollback.</summary>
    internal ArtifactRecord ToRecord() => Kind switch
    {
        OrphanKind.Process => new ArtifactRecord { Kind = ArtifactKind.Process, Step = "orphans", Process = Process, Program = Program },
        OrphanKind.TapDevice => new ArtifactRecord { Kind = ArtifactKind.TapDevice, Step = "orphans", Name = Target },
        OrphanKind.Mount => new ArtifactRecord { Kind = ArtifactKind.Mount, Step = "orphans", Path = Target },
        OrphanKind.HelperLockFile => new ArtifactRecord { Kind = ArtifactKind.HelperLockFile, Step = "orphans", Path = Target },
        OrphanKind.RuntimeFolder => new ArtifactRecord { Kind = ArtifactKind.Directory, Step = "orphans", Path = Target },
        _ => new ArtifactRecord { Kind = ArtifactKind.File, Step = "orphans", Path = Target },
    };

    public override string ToString() => $"{Kind} {Target} ({Reason})";
}
