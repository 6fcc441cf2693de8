using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Restart-MyVm. By default the stop ladder (power button first) and then a start, both by the
/// code Stop-MyVm and Start-MyVm use, in one hold of the VM's lock so no other command slips in
/// between; the disk is the same. With Force, a hard reset of the guest inside the same hypervisor
/// process (QMP system_reset): no power-off, no new process.
/// </summary>
public sealed class VmRestarter(MyHvPaths paths, VmStarter starter, VmStopper stopper, Func<string, IHypervisorDriver> drivers)
{
    public void Restart(VmSession session, RestartOptions options, OperationContext context)
    {
        var name = session.Name;
        if (!session.State.Status.IsLive() || session.State.Hypervisor is null)
            throw new MyHvException(MyHvErrorKind.VmNotRunning,
                $"VM '{name}' is not running ({session.State.Status}); there is nothing to restart. Start-MyVm starts it.", name);
        if (options.Force) { Reset(session, options.StartOptions, context); return; }

        context.Report(name, $"Restarting VM '{name}'", "Stopping", 10);
        var outcome = stopper.Stop(session, options.StopOptions, context);
        foreach (var leftover in outcome.Leftovers)
            context.Warning($"VM '{name}' stopped for the restart, but {leftover}. Run Repair-MyVm -Name {name}.");
        context.Report(name, $"Restarting VM '{name}'", "Starting", 50);
        starter.Start(session, options.StartOptions, context);
        context.Report(name, $"Restarting VM '{name}'", "Done", 100);
    }

    private void Reset(VmSession session, StartOptions start, OperationContext context)
    {
        var name = session.Name;
        var driver = drivers(session.Definition.Hypervisor);
        var endpoint = new HypervisorEndpoint(paths.ApiSocket(name));
        var consoleLog = paths.ConsoleLog(name);
        // Only what the guest prints after the reset counts as its readiness.
        var offset = File.Exists(consoleLog) ? new FileInfo(consoleLog).Length : 0;
        var process = session.State.Hypervisor!;
        try
        {
            // A restart means running; and the firmware's own reboot after the reset (see
            // QemuDriver.Reset) only happens while the CPUs run, so a paused guest runs first.
            if (session.State.Status == VmStatus.Paused) driver.Resume(endpoint);
            context.Say($"VM '{name}': hard reset through the hypervisor (no power-off)");
            driver.Reset(endpoint);
        }
        catch (Exception e) when (e is QmpConnectionException or QmpException or IOException)
        {
            if (!ProcessLiveness.IsAlive(process))
                throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' is not running: its hypervisor exited.", name, e);
            throw new MyHvException(MyHvErrorKind.VmBusy, $"VM '{name}': the hypervisor's API did not reset it: {e.Message}", name, e);
        }
        session.Save(session.State with { Status = VmStatus.Running, Reason = null });
        if (!start.WaitForGuest) return;

        var readyLine = ImageCatalog.TryLoad(session.Definition.ImagePath)?.ReadyLine ?? new GuestImage { Name = "", Folder = "", Kernel = "", Disk = "" }.ReadyLine;
        var deadline = DateTime.UtcNow + start.EffectiveTimeout;
        while (!ConsoleContainsAfter(consoleLog, offset, readyLine))
        {
            context.Cancel.ThrowIfCancellationRequested();
            if (!ProcessLiveness.IsAlive(process))
                throw new MyHvException(MyHvErrorKind.VmStartFailed, $"VM '{name}': the hypervisor exited before the guest was ready again.", name);
            if (DateTime.UtcNow >= deadline)
                throw new MyHvException(MyHvErrorKind.VmStartFailed,
                    $"VM '{name}' was reset, but the guest did not report ready within {start.EffectiveTimeout.TotalSeconds:0} s. " +
                    $"It is left as it is; see Get-MyVmConsole -Name {name}.", name) { FailedStep = StartSteps.Wait };
            Thread.Sleep(100);
        }
        context.Say($"VM '{name}': the guest reported ready after the reset");
    }

    /// <summary>Whether the console log holds the text after a byte offset (from the start if the log was replaced by a shorter one).</summary>
    private static bool ConsoleContainsAfter(string path, long offset, string text)
    {
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length >= offset) stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
    }
}
