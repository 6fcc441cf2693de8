using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Suspend-MyVm and Resume-MyVm: the hypervisor stops or continues the guest's CPUs (QMP stop and
/// cont); the process, its memory and its devices stay. The recorded status follows what the
/// hypervisor reports afterwards, not what was asked.
/// </summary>
public sealed class VmPauser(MyHvPaths paths, Func<string, IHypervisorDriver> drivers)
{
    public void Suspend(VmSession session, OperationContext context)
    {
        var name = session.Name;
        RequireLive(session);
        if (session.State.Status == VmStatus.Paused) { context.Say($"VM '{name}' is already paused"); return; }
        var paused = Call(session, "pause", d => { d.Pause(Endpoint(name)); return d.IsPaused(Endpoint(name)); });
        if (!paused) throw new MyHvException(MyHvErrorKind.VmBusy, $"VM '{name}': the hypervisor accepted the pause but reports the guest running.", name);
        session.Save(session.State with { Status = VmStatus.Paused });
        context.Say($"VM '{name}' is paused (its CPUs are stopped; memory and devices are kept)");
    }

    public void Resume(VmSession session, OperationContext context)
    {
        var name = session.Name;
        RequireLive(session);
        if (session.State.Status == VmStatus.Running) { context.Say($"VM '{name}' is already running"); return; }
        var paused = Call(session, "resume", d => { d.Resume(Endpoint(name)); return d.IsPaused(Endpoint(name)); });
        if (paused) throw new MyHvException(MyHvErrorKind.VmBusy, $"VM '{name}': the hypervisor accepted the resume but reports the guest still paused.", name);
        session.Save(session.State with { Status = VmStatus.Running });
        context.Say($"VM '{name}' is running again");
    }

    /// <summary>For the reconciler: whether a live VM recorded Paused really is paused (null when its API did not answer).</summary>
    public static Func<VmSession, bool?> Probe(MyHvPaths paths, Func<string, IHypervisorDriver> drivers) => session =>
    {
        try { return drivers(session.Definition.Hypervisor).IsPaused(new HypervisorEndpoint(paths.ApiSocket(session.Name))); }
        catch (Exception e) when (e is QmpConnectionException or QmpException or IOException) { return null; }
    };

    private HypervisorEndpoint Endpoint(string name) => new(paths.ApiSocket(name));

    private static void RequireLive(VmSession session)
    {
        if (!session.State.Status.IsLive() || session.State.Hypervisor is null)
            throw new MyHvException(MyHvErrorKind.VmNotRunning,
                $"VM '{session.Name}' is not running ({session.State.Status}). Start-MyVm starts it.", session.Name);
    }

    /// <summary>An API failure is "not running" when the process is gone, never a socket error.</summary>
    private T Call<T>(VmSession session, string what, Func<IHypervisorDriver, T> call)
    {
        try { return call(drivers(session.Definition.Hypervisor)); }
        catch (Exception e) when (e is QmpConnectionException or QmpException or IOException)
        {
            if (!ProcessLiveness.IsAlive(session.State.Hypervisor!))
                throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{session.Name}' is not running: its hypervisor exited.", session.Name, e);
            throw new MyHvException(MyHvErrorKind.VmBusy, $"VM '{session.Name}': the hypervisor's API did not {what} it: {e.Message}", session.Name, e);
        }
    }
}
