namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Restart-MyVm's knobs: Stop-MyVm's (how long the guest gets to power off) and Start-MyVm's
/// (whether and how long to wait for the guest); Force is a hard reset instead of the stop ladder.
/// </summary>
public sealed record RestartOptions(bool Force = false, StopOptions? Stop = null, StartOptions? Start = null)
{
    public StopOptions StopOptions => Stop ?? new StopOptions();
    public StartOptions StartOptions => Start ?? new StartOptions();
}
