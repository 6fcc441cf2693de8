namespace MyHypervisor.Core.Host;

/// <summary>One thing Test-MyVmHost looked at, and what to do when it is missing.</summary>
public sealed class HostCheck
{
    public required string Check { get; init; }
    public required bool Ok { get; init; }
    public required string Detail { get; init; }
    public string? Remedy { get; init; }
    public override string ToString() => $"{Check}: {(Ok ? "ok" : "missing")} ({Detail})";
}
