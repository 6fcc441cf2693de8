namespace MyHypervisor.Core.Lifecycle;

/// <summary>Stop-MyVm's knobs: how long the guest gets to power off, and whether to ask it at all.</summary>
public sealed record StopOptions(bool Force = false, TimeSpan? Timeout = null)
{
    public TimeSpan GuestTimeout => Timeout ?? TimeSpan.FromSeconds(30);
}
