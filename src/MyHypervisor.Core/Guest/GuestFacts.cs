namespace MyHypervisor.Core.Guest;

/// <summary>Whether the guest agent answered Get-MyVmGuest.</summary>
public enum GuestAgentStatus
{
    Answering,
    /// <summary>The agent did not answer in time (the guest is still booting, or is busy or hung).</summary>
    NotAnswering,
    /// <summary>The VM's image has no guest agent.</summary>
    NoAgent,
}

/// <summary>One network interface of the guest as its agent reports it.</summary>
public sealed record GuestInterface(string Name, string? MacAddress, string[] IPAddresses)
{
    public override string ToString() => $"{Name} {MacAddress} {string.Join(" ", IPAddresses)}".TrimEnd();
}

/// <summary>What Get-MyVmGuest writes: facts from inside the guest, or why there are none.</summary>
public sealed class GuestFacts
{
    public required string VmName { get; init; }
    public required GuestAgentStatus AgentStatus { get; init; }
    /// <summary>Why the agent did not answer (null when it did).</summary>
    public string? Reason { get; init; }
    public string? HostName { get; init; }
    public string? OsName { get; init; }
    public string? OsVersion { get; init; }
    public string? KernelRelease { get; init; }
    public string? KernelVersion { get; init; }
    public string? Machine { get; init; }
    public string? AgentVersion { get; init; }
    public GuestInterface[] Interfaces { get; init; } = Array.Empty<GuestInterface>();

    /// <summary>Every address that is not loopback or link-local, IPv4 first ("10.0.2.15").</summary>
    public string[] IPAddress => GuestAddresses.Routable(Interfaces);

    public override string ToString() => VmName;
}

public static class GuestAddresses
{
    /// <summary>Addresses a user can reach the guest at: not loopback, not link-local; IPv4 first.</summary>
    public static string[] Routable(IEnumerable<GuestInterface> interfaces) =>
        interfaces.Where(i => i.Name != "lo")
            .SelectMany(i => i.IPAddresses)
            .Select(a => a.Split('/')[0])
            .Where(a => !a.StartsWith("127.", StringComparison.Ordinal) && a != "::1" && !a.StartsWith("fe80:", StringComparison.OrdinalIgnoreCase))
            .OrderBy(a => a.Contains(':') ? 1 : 0)
            .ToArray();
}
