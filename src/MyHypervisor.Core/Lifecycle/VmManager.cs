using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Hypervisors.Qemu;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Stats;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Volumes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// The module's front door: one method per user action. Every method that touches a VM opens a
/// session first, which takes the VM's lock, rolls back an orphaned start journal and checks the
/// hypervisor's liveness, so no action ever works from a stale record.
/// </summary>
public sealed class VmManager
{
    /// <summary>Writers wait this long for a VM another command holds, then fail with VmBusy.</summary>
    public static readonly TimeSpan WriterLockWait = TimeSpan.FromSeconds(3);
    /// <summary>Readers wait less: a VM busy starting is reported as recorded, not waited for.</summary>
    public static readonly TimeSpan ReaderLockWait = TimeSpan.FromMilliseconds(300);

    private readonly VmStore store;
    private readonly VmReconciler reconciler;
    private readonly VmStarter starter;
    private readonly VmStopper stopper;
    private readonly StatsCollector stats;
    private readonly StartPreflight preflight;

    public VmManager(MyHvPaths paths)
    {
        Paths = paths;
        store = new VmStore(paths);
        Images = new ImageCatalog(paths);
        reconciler = new VmReconciler(store);
        preflight = new StartPreflight(paths, Images, new AcceleratorSelector(paths));
        starter = new VmStarter(store, preflight, DriverFor);
        stopper = new VmStopper(store, DriverFor);
        stats = new StatsCollector(paths, DriverFor);
    }

    public static VmManager FromEnvironment() => new(MyHvPaths.FromEnvironment());

    public MyHvPaths Paths { get; }
    public ImageCatalog Images { get; }

    /// <summary>The engine a VM's definition names. Cloud Hypervisor will register here.</summary>
    public static IHypervisorDriver DriverFor(string name) => name switch
    {
        "qemu" => new QemuDriver(),
        _ => throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"Unknown hypervisor '{name}'. Supported: qemu."),
    };

    /// <summary>Names of the VMs that exist, without reconciling (for completion and wildcard expansion).</summary>
    public IReadOnlyList<string> ListNames() => store.ListNames();

    public bool Exists(string name) => VmNameRules.Problem(name) is null && store.Exists(name);

    /// <summary>Validates a spec and turns it into a definition; writes nothing (so -WhatIf can show the plan).</summary>
    public VmDefinition PlanNew(VmSpec spec)
    {
        VmSpecRules.Validate(spec, TapDevices.BridgeExists);
        var sshPort = FirstBoot.FirstBootPlan.Validate(spec);
        var image = Images.Resolve(spec.Image);
        if (store.Exists(spec.Name))
            throw new MyHvException(MyHvErrorKind.InvalidVmName, $"A VM named '{spec.Name}' already exists.", spec.Name);
        var id = Guid.NewGuid();
        return new VmDefinition
        {
            Name = spec.Name,
            Id = id,
            Image = image.Name,
            ImagePath = image.Folder,
            Cpus = spec.Cpus,
            MemoryMiB = spec.MemoryMiB,
            Network = new VmNetwork
            {
                Mode = spec.Network,
                Bridge = spec.Bridge,
                Address = spec.Address,
                Gateway = spec.Gateway,
                MacAddress = spec.Network == NetworkMode.None ? null : NetworkInterfaceNames.MacAddress(id),
                TapName = spec.Network == NetworkMode.Bridge ? NetworkInterfaceNames.TapName(id) : null,
                SshPort = sshPort,
            },
            FirstBoot = spec.FirstBoot is { IsEmpty: false } ? spec.FirstBoot : null,
            Volumes = spec.Volumes.Select(v => new VmVolume { Path = Path.GetFullPath(v.Path), Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList(),
            KernelArguments = spec.KernelArguments,
        };
    }

    /// <summary>Creates the VM's folder from a planned definition, all or nothing.</summary>
    public VmInfo Create(VmDefinition definition, OperationContext context)
    {
        using (VmLock.Acquire(Paths.LockFile(definition.Name), definition.Name, WriterLockWait, context.Cancel))
        {
            store.Create(definition);
        }
        context.Say($"Created VM '{definition.Name}' from image '{definition.Image}' in {Paths.VmDirectory(definition.Name)}");
        return new VmInfo(definition, new VmState(), Array.Empty<string>(), Paths.VmDirectory(definition.Name));
    }

    public VmInfo New(VmSpec spec, OperationContext context) => Create(PlanNew(spec), context);

    /// <summary>The VM as it really is. A VM busy with another command is shown as recorded, with a note.</summary>
    public VmInfo Get(string name, OperationContext context)
    {
        var session = TryOpen(name, ReaderLockWait, context);
        if (session is null)
        {
            var definition = store.ReadDefinition(name);
            return new VmInfo(definition, store.ReadState(name), new[] { "busy: another command is working on this VM" }, Paths.VmDirectory(name));
        }
        using (session) return Info(session);
    }

    public VmInfo Start(string name, StartOptions options, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        try
        {
            starter.Start(session, options, context);
        }
        catch (MyHvException) { throw; }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new MyHvException(MyHvErrorKind.VmStartFailed, $"Starting VM '{name}' failed: {e.Message}", name, e);
        }
        return Info(session);
    }

    public (VmInfo Vm, VmStopper.Outcome Outcome) Stop(string name, StopOptions options, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        var outcome = stopper.Stop(session, options, context);
        // Problems seen when the session opened (a dead helper) belonged to the run just ended.
        if (session.State.Status != VmStatus.Running) session.Problems.Clear();
        return (Info(session), outcome);
    }

    public VmStats GetStats(string name, OperationContext context)
    {
        using var session = Open(name, ReaderLockWait + ReaderLockWait, context);
        return stats.Collect(session);
    }

    public IReadOnlyList<string> ReadConsole(string name, int tail, OperationContext context)
    {
        using var session = TryOpen(name, ReaderLockWait, context);
        return ConsoleLog.Tail(Paths.ConsoleLog(name), tail);
    }

    /// <summary>Deletes the VM with its disk. A running VM is stopped first only with <paramref name="force"/>.</summary>
    public void Remove(string name, bool force, OperationContext context)
    {
        VmNameRules.Validate(name);
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        using var vmLock = VmLock.Acquire(Paths.LockFile(name), name, WriterLockWait, context.Cancel);
        VmSession? session = null;
        try
        {
            session = OpenLocked(name, vmLock, context);
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.InvalidVmSpec && force)
        {
            context.Say($"VM '{name}' has an unreadable record ({e.Message}); removing it by force");
        }
        if (session?.State.Status == VmStatus.Running)
        {
            if (!force)
                throw new MyHvException(MyHvErrorKind.VmAlreadyRunning, $"VM '{name}' is running. Stop it first, or use Remove-MyVm -Force.", name);
            stopper.Stop(session, new StopOptions(Force: true), context);
        }
        // Whatever still carries this VM's marker, or sits in its runtime folder, goes with it.
        var report = ArtifactUndo.UndoAll(LeftoverRecords(name).Concat(session?.State.Artifacts ?? Array.Empty<ArtifactRecord>()), context.Narrate);
        foreach (var leftover in report.Leftovers)
            context.Warning($"VM '{name}' is removed, but {leftover}.");
        store.Delete(name);
        context.Say($"Removed VM '{name}' and its disk");
        File.Delete(Paths.LockFile(name));
    }

    /// <summary>Recovers one VM: rolls back an orphaned journal, tears down a dead run, ends leftover processes.</summary>
    public RepairResult Repair(string name, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context, out var removedByReconcile);
        var removed = new List<string>(removedByReconcile);
        var leftovers = new List<string>();
        if (session.State.Status != VmStatus.Running)
        {
            var report = ArtifactUndo.UndoAll(session.State.Artifacts.Concat(LeftoverRecords(name)), context.Narrate);
            removed.AddRange(report.Removed);
            leftovers.AddRange(report.Leftovers);
            if (session.State.Artifacts.Count > 0)
                session.Save(session.State with { Artifacts = report.Outcomes.Where(o => o.Result == UndoResult.Failed).Select(o => o.Record).ToList() });
        }
        return new RepairResult { Name = name, Status = session.State.Status, Removed = removed.ToArray(), Leftovers = leftovers.ToArray() };
    }

    /// <summary>
    /// Artifacts of a VM that is not running, found by name rather than by record: processes
    /// carrying its runtime folder on their command line, mounts under that folder (read-only
    /// bind mounts of shared folders, newest first, as /proc/self/mountinfo lists them), helper
    /// lock files, the runtime folder. They are undone together with the VM's recorded artifacts,
    /// ordered by Seq: the processes first and the mounts next (above any ledger Seq), the runtime
    /// folder last (below any), so no folder is deleted while a mount is still under it.
    /// </summary>
    private IEnumerable<ArtifactRecord> LeftoverRecords(string name)
    {
        var runtime = Paths.RuntimeDirectory(name);
        yield return new ArtifactRecord { Seq = int.MaxValue, Kind = ArtifactKind.Process, Step = "leftover", Marker = Paths.ProcessMarker(name) };
        foreach (var mountPoint in BindMounts.MountPointsUnder(runtime))
            yield return new ArtifactRecord { Seq = int.MaxValue - 1, Kind = ArtifactKind.Mount, Step = "leftover", Path = mountPoint };
        foreach (var lockFile in VirtiofsdLauncher.LockFilesUnder(runtime))
            yield return new ArtifactRecord { Seq = 1, Kind = ArtifactKind.HelperLockFile, Step = "leftover", Path = lockFile };
        yield return new ArtifactRecord { Seq = 0, Kind = ArtifactKind.Directory, Step = "leftover", Path = runtime };
    }

    private VmInfo Info(VmSession session) =>
        new(session.Definition, session.State, session.Problems, Paths.VmDirectory(session.Name));

    private VmSession Open(string name, TimeSpan wait, OperationContext context) => Open(name, wait, context, out _);

    private VmSession Open(string name, TimeSpan wait, OperationContext context, out IReadOnlyList<string> removed)
    {
        VmNameRules.Validate(name);
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        var vmLock = VmLock.Acquire(Paths.LockFile(name), name, wait, context.Cancel);
        try { return OpenLocked(name, vmLock, context, out removed); }
        catch { vmLock.Dispose(); throw; }
    }

    private VmSession? TryOpen(string name, TimeSpan wait, OperationContext context)
    {
        VmNameRules.Validate(name);
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        var vmLock = VmLock.TryAcquire(Paths.LockFile(name), wait, context.Cancel);
        if (vmLock is null) return null;
        try { return OpenLocked(name, vmLock, context, out _); }
        catch { vmLock.Dispose(); throw; }
    }

    private VmSession OpenLocked(string name, VmLock vmLock, OperationContext context) => OpenLocked(name, vmLock, context, out _);

    /// <summary>Builds the session under a lock the caller holds (and releases, if this throws).</summary>
    private VmSession OpenLocked(string name, VmLock vmLock, OperationContext context, out IReadOnlyList<string> removed)
    {
        // Re-read under the lock: the VM may have been removed while we waited.
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        var session = new VmSession(vmLock, store, store.ReadDefinition(name), store.ReadState(name));
        removed = reconciler.Reconcile(session, context);
        return session;
    }
}
