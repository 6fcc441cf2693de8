using Mono.Unix.Native;

namespace MyHypervisor.Core.Processes;

/// <summary>Ends a process the module owns: SIGTERM, a grace period, then SIGKILL. Never signals a reused pid.</summary>
public static class ProcessTerminator
{
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(3);

    /// <summary>Returns true when the process is gone afterwards (or was already gone).</summary>
    public static bool Terminate(ProcessIdentity identity, TimeSpan grace)
    {
        if (!ProcessLiveness.IsAlive(identity)) return true;
        Signal(identity, Signum.SIGTERM);
        if (WaitForExit(identity, grace)) return true;
        Signal(identity, Signum.SIGKILL);
        return WaitForExit(identity, TimeSpan.FromSeconds(5));
    }

    /// <summary>Sends a signal only if the identity still matches (pid reuse check right before the kill).</summary>
    public static void Signal(ProcessIdentity identity, Signum signal)
    {
        if (ProcessLiveness.IsAlive(identity)) Syscall.kill(identity.Pid, signal);
    }

    public static bool WaitForExit(ProcessIdentity identity, TimeSpan timeout, CancellationToken cancel = default)
    {
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        while (ProcessLiveness.IsAlive(identity))
        {
            if (DateTime.UtcNow >= deadline) return false;
            cancel.ThrowIfCancellationRequested();
            // QEMU is usually gone within a few milliseconds of a quit or SIGTERM: poll every
            // millisecond at first (a check is a /proc read or two), then every 10 ms.
            Thread.Sleep(DateTime.UtcNow - started < TimeSpan.FromMilliseconds(20) ? 1 : 10);
        }
        return true;
    }
}
