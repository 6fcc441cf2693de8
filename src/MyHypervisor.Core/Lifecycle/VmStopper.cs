using System.Runtime.CompilerServices;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Stop is a ladder: the guest's power button (pressed again every few seconds while waiting up to
/// the timeout, for a guest that was not listening yet), then the guest agent's
/// guest-shutdown (when the run has an agent), then the hypervisor's quit, then SIGTERM, then SIGKILL. -Force skips asking the guest, and so does a dead helper
/// (the session's Problems: the guest could not finish a power-off). Whichever rung ends the
/// process is recorded; then the run's artifacts are undone by the same code as a failed start.
/// </summary>
public sealed class VmStopper(VmStore store, Func<string, IHypervisorDriver> drivers)
{
    private static readonly TimeSpan QuitWait = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan TermWait = TimeSpan.FromSeconds(3);
    // A guest still booting has nobody listening to the power button yet (acpid, logind), and the
    // press is lost: pressed once, a stop right after an unwaited start always waited its whole
    // timeout. So the button is pressed again this often, as a person would; a guest already
    // powering off ignores the repeat.
    private static readonly TimeSpan PowerButtonRepeat = TimeSpan.FromSeconds(3);

    public sealed record Outcome(bool WasRunning, StopMethod? Method, IReadOnlyList<string> Leftovers);

    /// <summary>Stops a running VM; a VM that is not running is left as it is (WasRunning = false).</summary>
    public Outcome Stop(VmSession session, StopOptions options, OperationContext context)
    {
        var name = session.Name;
        var state = session.State;
        if (!state.Status.IsLive() || state.Hypervisor is null) return new Outcome(false, null, Array.Empty<string>());

        var driver = drivers(session.Definition.Hypervisor);
        var endpoint = new HypervisorEndpoint(store.Paths.ApiSocket(name));
        // A paused guest cannot hear the power button: let it run again first, so it can flush and
        // power off cleanly. -Force quits at once anyway.
        if (state.Status == VmStatus.Paused && !options.Force)
        {
            context.Say($"VM '{name}' is paused; resuming it so that the guest can power off");
            TryApi(() => driver.Resume(endpoint), context);
        }
        var process = state.Hypervisor;
        // Transient: if this process dies, the next command finds Stopping, or (after a host crash,
        // as it may not have reached the disk) Running with a dead hypervisor; the reconciler ends
        // both. No fsync for it (bench/results.md), unlike the final state below.
        session.Save(state with { Status = VmStatus.Stopping }, durable: false);

        // Problems (filled when the session opened, by VmReconciler.CheckHelpers) mean a dead
        // helper: a guest cannot unmount a volume whose virtiofsd is gone, so the power button
        // would never complete; the ladder starts at the hypervisor's quit instead.
        var skipGuest = session.Problems.Count > 0 ? string.Join("; ", session.Problems) : null;
        var rung = new StrongBox<StopMethod>(options.Force ? StopMethod.HypervisorQuit : StopMethod.GuestPowerOff);
        StopMethod method;
        var agentSocket = state.GuestAgent == true ? store.Paths.AgentSocket(name) : null;
        try { method = Ladder(name, driver, endpoint, process, options, skipGuest, agentSocket, context, rung); }
        catch (OperationCanceledException) when (ProcessLiveness.IsAlive(process))
        {
            // Stopped mid-way (Ctrl+C, PowerShell.Stop(), Stop-Job) with the hypervisor still up:
            // the stop is abandoned and the record says so at once, so the next command finds a
            // running VM, as it is, rather than a 'Stopping' one nobody is stopping.
            session.Save(state, durable: false);
            context.Say($"VM '{name}': the stop was cancelled; the VM is still running");
            throw;
        }
        catch (OperationCanceledException)
        {
            // Cancelled, but the hypervisor is gone already (the rung under way worked): finish the
            // stop, which only removes files now, so the VM is not left half torn down.
            method = rung.Value;
            context.Say($"VM '{name}': the stop was cancelled, but the hypervisor has exited; finishing the teardown");
        }
        Report(context, name, "Removing runtime artifacts", 90);
        var report = ArtifactUndo.UndoAll(state.Artifacts, new RecordScope(store.Paths, name, session.Definition.Network.TapName), context.Narrate);
        session.Save(state with
        {
            Status = VmStatus.Stopped,
            Hypervisor = null,
            Attempt = null,
            StopMethod = method,
            StoppedAt = DateTimeOffset.UtcNow,
            Reason = null,
            ConsoleTail = null,
            Artifacts = report.Remaining,
        });
        Report(context, name, "Stopped", 100);
        context.Say($"VM '{name}' stopped ({method})");
        return new Outcome(true, method, report.Leftovers);
    }

    /// <summary>Climbs the ladder; <paramref name="rung"/> always names the rung under way (for a cancelled stop).</summary>
    private static StopMethod Ladder(string name, IHypervisorDriver driver, HypervisorEndpoint endpoint,
        ProcessIdentity process, StopOptions options, string? skipGuest, string? agentSocket, OperationContext context, StrongBox<StopMethod> rung)
    {
        if (!options.Force && skipGuest is not null)
            context.Say($"VM '{name}': not pressing the ACPI power button: {skipGuest}. " +
                "The guest could not complete a power-off (it cannot unmount a volume whose daemon is gone)");
        else if (!options.Force)
        {
            context.Say($"VM '{name}': pressing the ACPI power button; waiting up to {options.GuestTimeout.TotalSeconds:0} s");
            Report(context, name, "Pressing the ACPI power button", 5);
            void Press() => driver.RequestPowerOff(endpoint);
            void PressAgain()
            {
                context.Say($"VM '{name}': pressing the ACPI power button again (a guest still booting may not have been listening)");
                TryApi(Press, context);
            }
            if (TryApi(Press, context) && WaitWithProgress(name, process, options.GuestTimeout, context, PressAgain))
                return StopMethod.GuestPowerOff;
            if (!ProcessLiveness.IsAlive(process)) return StopMethod.GuestPowerOff;
            if (agentSocket is not null) rung.Value = StopMethod.GuestAgentShutdown;
            if (agentSocket is not null && Guest.GuestAgentShutdown.Request(name, agentSocket, context)
                && WaitWithProgress(name, process, options.GuestTimeout, context))
                return StopMethod.GuestAgentShutdown;
            if (!ProcessLiveness.IsAlive(process)) return StopMethod.GuestAgentShutdown;
        }
        rung.Value = StopMethod.HypervisorQuit;
        context.Say($"VM '{name}': asking the hypervisor to quit");
        Report(context, name, "Asking the hypervisor to quit", 60);
        if (TryApi(() => driver.Quit(endpoint), context) && ProcessTerminator.WaitForExit(process, QuitWait, context.Cancel))
            return StopMethod.HypervisorQuit;
        if (!ProcessLiveness.IsAlive(process)) return StopMethod.HypervisorQuit;

        rung.Value = StopMethod.Terminate;
        context.Say($"VM '{name}': sending SIGTERM to {process}");
        Report(context, name, "Sending SIGTERM", 70);
        ProcessTerminator.Signal(process, Mono.Unix.Native.Signum.SIGTERM);
        if (ProcessTerminator.WaitForExit(process, TermWait, context.Cancel)) return StopMethod.Terminate;

        rung.Value = StopMethod.Kill;
        context.Say($"VM '{name}': sending SIGKILL to {process}");
        Report(context, name, "Sending SIGKILL", 80);
        ProcessTerminator.Signal(process, Mono.Unix.Native.Signum.SIGKILL);
        ProcessTerminator.WaitForExit(process, TimeSpan.FromSeconds(10), context.Cancel);
        return StopMethod.Kill;
    }

    /// <summary>An API that cannot be reached is a reason to climb the ladder, not to fail.</summary>
    private static bool TryApi(Action call, OperationContext context)
    {
        try { call(); return true; }
        catch (Exception e) when (e is Hypervisors.Qemu.QmpConnectionException or Hypervisors.Qemu.QmpException or IOException)
        {
            context.Say($"  the hypervisor's API did not answer ({e.Message}); next rung");
            return false;
        }
    }

    private static bool WaitWithProgress(string name, ProcessIdentity process, TimeSpan timeout, OperationContext context, Action? repeat = null)
    {
        var started = DateTime.UtcNow;
        var lastAsked = started;
        // Shown at once, not only after the first poll: a guest that takes its time is visibly waited for.
        Report(context, name, $"Waiting for the guest to power off (0/{timeout.TotalSeconds:0} s)", 5);
        while (DateTime.UtcNow - started < timeout)
        {
            if (ProcessTerminator.WaitForExit(process, TimeSpan.FromMilliseconds(250), context.Cancel)) return true;
            if (repeat is not null && DateTime.UtcNow - lastAsked >= PowerButtonRepeat)
            {
                repeat();
                lastAsked = DateTime.UtcNow;
            }
            var elapsed = DateTime.UtcNow - started;
            Report(context, name, $"Waiting for the guest to power off ({elapsed.TotalSeconds:0}/{timeout.TotalSeconds:0} s)",
                5 + (int)(45 * elapsed.TotalSeconds / timeout.TotalSeconds));
        }
        return !ProcessLiveness.IsAlive(process);
    }

    private static void Report(OperationContext context, string name, string status, int percent) =>
        context.Report(name, $"Stopping VM '{name}'", status, percent);
}
