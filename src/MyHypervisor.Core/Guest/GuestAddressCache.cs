namespace MyHypervisor.Core.Guest;

/// <summary>
/// The guest's IP addresses as its agent reported them, kept in the run's state so that Get-MyVm
/// asks the agent at most once per <see cref="MaxAge"/> per VM, and only for as long as a short,
/// bounded wait allows. Attempt ties it to one run: a later run never shows these.
/// </summary>
public sealed record GuestAddressCache
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    public Guid? Attempt { get; init; }
    /// <summary>When the agent was last asked (answered or not).</summary>
    public DateTimeOffset CheckedAt { get; init; }
    /// <summary>When it last answered; null if it never did in this run.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }
    public IReadOnlyList<string> Addresses { get; init; } = Array.Empty<string>();
}
