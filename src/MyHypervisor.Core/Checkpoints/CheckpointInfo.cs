namespace MyHypervisor.Core.Checkpoints;

/// <summary>What a checkpoint holds: the disk only (taken of a stopped VM), or also the memory and device state (taken of a running or paused VM).</summary>
public enum CheckpointKind { Disk, Memory }

/// <summary>
/// One checkpoint of a VM, as its disk's snapshot table says (qemu-img, or QMP while the VM
/// runs). The property names avoid "Name", so a checkpoint piped to Restore-MyVmCheckpoint
/// binds its VmName to -Name and its CheckpointName to -CheckpointName.
/// </summary>
public sealed record CheckpointInfo
{
    public required string VmName { get; init; }
    public required string CheckpointName { get; init; }
    public required CheckpointKind Kind { get; init; }
    /// <summary>When it was taken, in UTC (a DateTime, so it survives serialization as one).</summary>
    public required DateTime CreatedAt { get; init; }
    /// <summary>The guest's own clock (QEMU's virtual clock) when it was taken: how long the guest had run. Zero for a disk checkpoint.</summary>
    public required TimeSpan GuestClock { get; init; }
    /// <summary>The size of the saved memory and device state, in bytes (0 for a disk checkpoint).</summary>
    public required long MemoryStateBytes { get; init; }
    /// <summary>The qcow2 snapshot id (informational; checkpoints are always found by name).</summary>
    public required string SnapshotId { get; init; }
    /// <summary>
    /// A memory checkpoint's machine as its record keeps it (what a restore puts back), e.g.
    /// "1 CPU, 128 MiB, network User, no volumes, balloon"; "(not recorded)" for one taken before
    /// the module kept records, "(record unusable: ...)" for a damaged one; null for a disk checkpoint.
    /// </summary>
    public string? TakenOn { get; init; }

    public override string ToString() => $"{VmName}/{CheckpointName}";
}
