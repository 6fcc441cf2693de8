namespace MyHypervisor.Core.Lifecycle;

/// <summary>Start-MyVm's knobs.</summary>
public sealed record StartOptions(bool WaitForGuest = false, TimeSpan? Timeout = null)
{
    public TimeSpan EffectiveTimeout => Timeout ?? TimeSpan.FromSeconds(60);
}
