using MyHypervisor.Core.Ledger;

namespace MyHypervisor.Core.Orphans;

/// <summary>What Repair-MyVm -Orphans did to one orphan.</summary>
public sealed class OrphanRemoval
{
    public required OrphanKind Kind { get; init; }
    public required string Target { get; init; }
    public string? VmName { get; init; }
    /// <summary>Removed, AlreadyGone, Failed or Refused (it changed since it was found, or is another home's).</summary>
    public required UndoResult Result { get; init; }
    public string? Problem { get; init; }

    public static OrphanRemoval From(VmOrphan orphan, UndoOutcome outcome) => new()
    {
        Kind = orphan.Kind, Target = orphan.Target, VmName = orphan.VmName, Result = outcome.Result, Problem = outcome.Problem,
    };

    public override string ToString() => $"{Kind} {Target}: {Result}{(Problem is null ? "" : $" ({Problem})")}";
}
