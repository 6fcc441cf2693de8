namespace MyHypervisor.Core.Processes;

/// <summary>
/// A process as the module knows it: pid plus its start time (clock ticks since boot, from
/// /proc/&lt;pid&gt;/stat) and the boot it belongs to. A pid alone can be reused by an unrelated
/// process; the triple cannot.
/// </summary>
public sealed record ProcessIdentity(int Pid, ulong StartTicks, string BootId, string? Executable)
{
    public override string ToString() => $"pid {Pid} ({Path.GetFileName(Executable) ?? "?"})";
}
