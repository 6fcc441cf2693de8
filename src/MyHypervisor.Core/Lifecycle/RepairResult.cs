namespace MyHypervisor.Core.Lifecycle;

/// <summary>What Repair-MyVm did to one VM.</summary>
public sealed class RepairResult
{
    public required string Name { get; init; }
    public required Vms.VmStatus Status { get; init; }
    public required string[] Removed { get; init; }
    public required string[] Leftovers { get; init; }
    public bool Clean => Leftovers.Length == 0;
    public override string ToString() => Name;
}
