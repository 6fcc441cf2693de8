namespace MyHypervisor.Core.Lifecycle;

/// <summary>Start-MyVm's knobs.</summary>
public sealed record StartOptions(bool WaitForGuest = false, TimeSpan? Timeout = null)
{
    /// <summary>
    /// Restore-MyVmCheckpoint: the memory checkpoint the new run resumes (QEMU's -loadvm) instead
    /// of booting. The start's steps then fire restore.&lt;step&gt; fail points, and a failure leaves
    /// the VM's status and disk as they were (see Checkpoints.VmCheckpointer).
    /// </summary>
    public string? Checkpoint { get; init; }

    /// <summary>
    /// With <see cref="Checkpoint"/>: the definition the restore puts back (the machine the checkpoint
    /// was taken on), written in the start's storage step and written back by its rollback; null
    /// when the VM's definition already builds that machine.
    /// </summary>
    public Vms.VmDefinition? Definition { get; init; }

    public TimeSpan EffectiveTimeout => Timeout ?? TimeSpan.FromSeconds(60);
}
