namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// What the module keeps about a memory checkpoint beside its snapshot in the disk
/// (vms/&lt;vm&gt;/checkpoint-&lt;name&gt;.json, see <see cref="CheckpointRecords"/>): the shape of the
/// machine its state was saved from, so a restore can build that machine again. A disk checkpoint
/// has none (a stopped VM's disk boots on any machine); neither has a memory checkpoint taken
/// before the module recorded shapes.
/// </summary>
public sealed record CheckpointRecord
{
    /// <summary>The checkpoint's name, which the file's name must carry too (a copied or renamed file is not used).</summary>
    public string? CheckpointName { get; init; }
    public DateTimeOffset TakenAt { get; init; }
    public MachineShape? Shape { get; init; }
}
