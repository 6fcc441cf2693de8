using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// What a restore will do to the VM's definition, known before anything is touched (-WhatIf shows
/// it): a memory checkpoint resumes only on the machine it was taken on, so its restore puts back
/// that machine's settings (<see cref="Changes"/>, as "MemoryMiB 192 -> 128"). A disk checkpoint, and
/// a memory checkpoint taken before the module recorded machines (<see cref="ShapeRecorded"/> false),
/// change nothing in the definition.
/// </summary>
public sealed record RestorePlan(CheckpointInfo Checkpoint, VmDefinition Before, VmDefinition After, IReadOnlyList<string> Changes, bool ShapeRecorded)
{
    public bool Redefines => Changes.Count > 0;

    public string Describe() => string.Join("; ", Changes);
}
