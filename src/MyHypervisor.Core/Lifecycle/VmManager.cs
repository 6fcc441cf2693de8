using MyHypervisor.Core.Changes;
using MyHypervisor.Core.Cloning;
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
    private readonly VmPauser pauser;
    private readonly VmRestarter restarter;
    private readonly VmCloner cloner;
    private readonly Checkpoints.VmCheckpointer checkpointer;

    public VmManager(MyHvPaths paths)
    {
        Paths = paths;
        store = new VmStore(paths);
        Images = new ImageCatalog(paths);
        reconciler = new VmReconciler(store) { PauseProbe = VmPauser.Probe(paths, DriverFor), Drivers = DriverFor };
        preflight = new StartPreflight(paths, Images, new AcceleratorSelector(paths));
        starter = new VmStarter(store, preflight, DriverFor);
        stopper = new VmStopper(store, DriverFor);
        stats = new StatsCollector(paths, DriverFor);
        pauser = new VmPauser(paths, DriverFor);
        restarter = new VmRestarter(paths, starter, stopper, DriverFor);
        cloner = new VmCloner(store);
        checkpointer = new Checkpoints.VmCheckpointer(store);
    }

    public static VmManager FromEnvironment() => new(MyHvPaths.FromEnvironment());

    public MyHvPaths Paths { get; }
    public ImageCatalog Images { get; }

    /// <summary>The engines a VM can name (New-MyVm -Hypervisor), the default first.</summary>
    public static readonly IReadOnlyList<string> HypervisorNames = new[] { QemuDriver.DriverName, Hypervisors.CloudHypervisor.CloudHypervisorDriver.DriverName };

    /// <summary>The engine a VM's definition names.</summary>
    public static IHypervisorDriver DriverFor(string name) => FindDriver(name)
        ?? throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"Unknown hypervisor '{name}'. Supported: {string.Join(", ", HypervisorNames)}.");

    /// <summary>The engine of that name, or null when the module runs none by that name.</summary>
    public static IHypervisorDriver? FindDriver(string name) => name switch
    {
        QemuDriver.DriverName => new QemuDriver(),
        Hypervisors.CloudHypervisor.CloudHypervisorDriver.DriverName => new Hypervisors.CloudHypervisor.CloudHypervisorDriver(),
        _ => null,
    };

    /// <summary>Names of the VMs that exist, without reconciling (for completion and wildcard expansion).</summary>
    public IReadOnlyList<string> ListNames() => store.ListNames();

    public bool Exists(string name) => VmNameRules.Problem(name) is null && store.Exists(name);

    /// <summary>Validates a spec and turns it into a definition; writes nothing (so -WhatIf can show the plan).</summary>
    public VmDefinition PlanNew(VmSpec spec)
    {
        VmNameRules.Validate(spec.Name);
        // A VM this user could never start is not defined either (nothing is written for it), and
        // that comes first: "you may not create TAP devices" is the answer, not "no such bridge".
        Host.PrivilegedFeatures.Check(spec.Name, spec.Network, spec.Volumes);
        VmSpecRules.Validate(spec, TapDevices.BridgeExists);
        HypervisorRules.Validate(spec);
        var sshPort = FirstBoot.FirstBootPlan.Validate(spec);
        var image = Images.Resolve(spec.Image);
        if (store.Exists(spec.Name))
            throw new MyHvException(MyHvErrorKind.InvalidVmName, store.ExistsMessage(spec.Name), spec.Name);
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
                SshPort = sshPort.Pinned,
                SshPortAutomatic = sshPort.Automatic,
            },
            FirstBoot = spec.FirstBoot is { IsEmpty: false } ? spec.FirstBoot : null,
            Volumes = spec.Volumes.Select(v => new VmVolume { Path = Path.GetFullPath(v.Path), Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList(),
            KernelArguments = spec.KernelArguments,
            Hypervisor = spec.Hypervisor,
            TranslationCacheMiB = spec.TranslationCacheMiB,
            FreePageReporting = spec.FreePageReporting,
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

    /// <summary>
    /// The VM as it really is. A VM busy with another command is shown as recorded, with a note.
    /// A VM whose record cannot be used is shown as Failed, with the reason naming the file and
    /// the field: it never stops the listing of the others.
    /// </summary>
    public VmInfo Get(string name, OperationContext context)
    {
        VmSession? session;
        try
        {
            session = TryOpen(name, ReaderLockWait, context);
        }
        catch (VmRecordException e)
        {
            return Unusable(name, e);
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.VmBusy)
        {
            return Busy(name, e.Message);
        }
        if (session is null) return Busy(name, "busy: another command is working on this VM");
        using (session)
        {
            Guest.GuestAddressRefresher.Refresh(session, Paths, context);
            return Info(session);
        }
    }

    /// <summary>Records the guest's addresses its agent told (Get-MyVmGuest), for Get-MyVm's IPAddress; skipped when the VM is busy.</summary>
    public void RecordGuestAddresses(string name, string[] addresses, OperationContext context)
    {
        using var session = TryOpen(name, ReaderLockWait, context);
        if (session is not null) Guest.GuestAddressRefresher.Save(session, addresses);
    }

    /// <summary>The VM's definition and its state as reconciled with reality, for work inside the guest (the lock is released on return).</summary>
    public (VmDefinition Definition, VmState State) Inspect(string name, OperationContext context)
    {
        using var session = Open(name, ReaderLockWait + ReaderLockWait, context);
        return (session.Definition, session.State);
    }

    private VmInfo Busy(string name, string note)
    {
        try { return new VmInfo(store.ReadDefinition(name), store.ReadState(name), new[] { note }, Paths.VmDirectory(name)); }
        catch (VmRecordException e) { return Unusable(name, e); }
    }

    /// <summary>A VM whose record cannot be used: Failed, with the reason; its definition when that much is readable.</summary>
    private VmInfo Unusable(string name, VmRecordException problem)
    {
        VmDefinition definition;
        try { definition = store.ReadDefinition(name); }
        catch (MyHvException)
        {
            definition = new VmDefinition
            {
                Name = name, Id = Guid.Empty, Image = string.Empty, ImagePath = string.Empty, Cpus = 0, MemoryMiB = 0,
                CreatedAt = Directory.GetCreationTimeUtc(Paths.VmDirectory(name)),
            };
        }
        var state = new VmState { Status = VmStatus.Failed, Reason = problem.Message };
        return new VmInfo(definition, state, new[] { problem.Message }, Paths.VmDirectory(name));
    }

    public VmInfo Start(string name, StartOptions options, OperationContext context)
    {
        VmSession session;
        // The contract's id for any start failure, a state that cannot be written included.
        try { session = Open(name, WriterLockWait, context); }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.StateWriteFailed) { throw AsStartFailure(name, e); }
        using var _ = session;
        try
        {
            starter.Start(session, options, context);
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.StateWriteFailed) { throw AsStartFailure(name, e); }
        catch (MyHvException) { throw; }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Before the transaction began (preflight, stale-runtime sweep): nothing was created.
            throw new MyHvException(MyHvErrorKind.VmStartFailed, $"Starting VM '{name}' failed before anything was created: {e.Message}", name, e)
            { FailedStep = StartSteps.Prepare };
        }
        return Info(session);
    }

    private static MyHvException AsStartFailure(string name, MyHvException e) =>
        new(MyHvErrorKind.VmStartFailed, $"Starting VM '{name}' failed: {e.Message}", name, e) { FailedStep = StartSteps.Prepare };

    public (VmInfo Vm, VmStopper.Outcome Outcome) Stop(string name, StopOptions options, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        var outcome = stopper.Stop(session, options, context);
        // Problems seen when the session opened (a dead helper) belonged to the run just ended.
        if (!session.State.Status.IsLive()) session.Problems.Clear();
        return (Info(session), outcome);
    }

    /// <summary>
    /// Changes a stopped VM's definition (Set-MyVm). The new definition is validated by New-MyVm's
    /// rules before anything is written, then written atomically; <paramref name="confirm"/> sees
    /// the change first (-WhatIf/-Confirm) and may decline it. Returns null when declined.
    /// </summary>
    public VmInfo? Set(string name, VmChangeRequest change, Func<VmReconfiguration.Plan, bool> confirm, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        var plan = VmReconfiguration.Apply(session.Definition, change, TapDevices.BridgeExists);
        if (plan.Changed && session.State.Status is not (VmStatus.Stopped or VmStatus.Failed))
            throw new MyHvException(MyHvErrorKind.VmAlreadyRunning,
                $"VM '{name}' is {session.State.Status.ToString().ToLowerInvariant()}: {plan.Describe()} would need a restart, and " +
                "no setting changes live. Stop it first (Stop-MyVm), change it, then start it again.", name);
        if (!confirm(plan)) return null;
        if (plan.Changed)
        {
            store.WriteDefinition(plan.After);
            context.Say($"VM '{name}': {plan.Describe()}");
        }
        else context.Say($"VM '{name}': nothing to change");
        return new VmInfo(plan.After, session.State, session.Problems, Paths.VmDirectory(name));
    }

    /// <summary>Copies a stopped VM to a new one (Copy-MyVm): a full copy of its disk, or linked to a frozen copy.</summary>
    public VmInfo Copy(string name, string newName, bool linked, OperationContext context)
    {
        cloner.RecoverInterrupted(context);
        using var session = Open(name, WriterLockWait, context);
        var definition = cloner.Clone(session, newName, linked, context);
        return new VmInfo(definition, new VmState(), Array.Empty<string>(), Paths.VmDirectory(newName));
    }

    /// <summary>Rolls back copies whose process died (a kill mid-copy); Get-MyVm and Repair-MyVm call it first.</summary>
    public IReadOnlyList<string> RecoverInterruptedOperations(OperationContext context) => cloner.RecoverInterrupted(context);

    /// <summary>Stops the guest's CPUs (Suspend-MyVm); a paused VM stays paused.</summary>
    public VmInfo Suspend(string name, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        pauser.Suspend(session, context);
        return Info(session);
    }

    /// <summary>Lets a paused VM run again (Resume-MyVm); a running VM stays running.</summary>
    public VmInfo Resume(string name, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        pauser.Resume(session, context);
        return Info(session);
    }

    /// <summary>Restarts a running or paused VM (Restart-MyVm): the stop ladder and a new start, or with Force a hard reset.</summary>
    public VmInfo Restart(string name, RestartOptions options, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        restarter.Restart(session, options, context);
        return Info(session);
    }

    /// <summary>Takes a checkpoint (Checkpoint-MyVm): with memory and device state when the VM runs, of the disk when it is stopped.</summary>
    public Checkpoints.CheckpointInfo Checkpoint(string name, string? checkpointName, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        return checkpointer.Checkpoint(session, checkpointName, context);
    }

    /// <summary>The VM's checkpoints (Get-MyVmCheckpoint), as its disk's snapshot table says.</summary>
    public IReadOnlyList<Checkpoints.CheckpointInfo> GetCheckpoints(string name, OperationContext context)
    {
        using var session = Open(name, ReaderLockWait + ReaderLockWait, context);
        return checkpointer.List(session, context.Cancel);
    }

    /// <summary>
    /// Restores a checkpoint (Restore-MyVmCheckpoint). A running or paused VM is stopped first only
    /// with <paramref name="force"/> (its current state is given up). A memory checkpoint is resumed
    /// by a start of its own: the VM runs on from where it was saved, on the machine it was taken on
    /// (its settings put back in the definition). <paramref name="confirm"/> sees the plan first
    /// (-WhatIf/-Confirm), after every check and before anything is touched; returns null when declined.
    /// </summary>
    public VmInfo? RestoreCheckpoint(string name, string checkpointName, bool force, StartOptions startOptions,
        Func<Checkpoints.RestorePlan, bool> confirm, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        var checkpoint = checkpointer.Find(session, checkpointName, context.Cancel);
        if (session.State.Status.IsLive() && !force)
            throw new MyHvException(MyHvErrorKind.VmAlreadyRunning,
                $"VM '{name}' is {session.State.Status.ToString().ToLowerInvariant()}: restoring checkpoint '{checkpointName}' gives up its current state. " +
                "Use Restore-MyVmCheckpoint -Force to stop it first.", name);
        var plan = checkpointer.PlanRestore(session, checkpoint);
        if (!confirm(plan)) return null;
        if (session.State.Status.IsLive())
        {
            context.Say($"VM '{name}' is running; stopping it (-Force) before the restore");
            stopper.Stop(session, new StopOptions(Force: true), context);
        }
        try
        {
            checkpointer.Restore(session, plan, context, options => starter.Start(session, options, context), startOptions);
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.StateWriteFailed && checkpoint.Kind == Checkpoints.CheckpointKind.Memory)
        {
            throw AsStartFailure(name, e);
        }
        return Info(session);
    }

    /// <summary>Deletes a checkpoint (Remove-MyVmCheckpoint); the VM and its other checkpoints stay.</summary>
    public void RemoveCheckpoint(string name, string checkpointName, OperationContext context)
    {
        using var session = Open(name, WriterLockWait, context);
        checkpointer.Remove(session, checkpointer.Find(session, checkpointName, context.Cancel), context);
    }

    /// <summary>Checkpoint names for tab completion: read from the disk, no lock taken.</summary>
    public IReadOnlyList<string> CheckpointNamesForCompletion(string name) =>
        VmNameRules.Problem(name) is null && store.Exists(name) ? Checkpoints.VmCheckpointer.NamesForCompletion(Paths, name) : Array.Empty<string>();

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

    /// <summary>
    /// Deletes the VM with its disk. A running VM is stopped first only with <paramref name="force"/>.
    /// A VM whose record cannot be used is removed with <paramref name="force"/>, with whatever of
    /// it is found by name (processes, mounts, lock files, runtime folder); a removal that did not
    /// finish is finished. The lock file goes last, released first and unlinked under the folder
    /// lock, so it is never unlinked while anyone holds it (see <see cref="VmLock"/>).
    /// </summary>
    public void Remove(string name, bool force, OperationContext context)
    {
        VmNameRules.Validate(name);
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        using var vmLock = VmLock.Acquire(Paths.LockFile(name), name, WriterLockWait, context.Cancel);
        if (!store.Exists(name)) throw new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name);
        VmSession? session = null;
        RecordScope? scope = null;
        var finishing = store.IsBeingRemoved(name);
        if (!finishing)
        {
            try
            {
                session = OpenLocked(name, vmLock, context);
                scope = reconciler.ScopeOf(session);
            }
            catch (VmRecordException e) when (force)
            {
                context.Say($"VM '{name}' has an unusable record ({e.Message}); removing it by force");
            }
        }
        else context.Say($"VM '{name}': finishing a removal that did not finish");
        if (session?.State.Status.IsLive() == true)
        {
            if (!force)
                throw new MyHvException(MyHvErrorKind.VmAlreadyRunning, $"VM '{name}' is running. Stop it first, or use Remove-MyVm -Force.", name);
            stopper.Stop(session, new StopOptions(Force: true), context);
        }
        // Last point where a stopped pipeline can end the removal: from here on it only deletes,
        // and a removal cut short would leave a half-removed VM. Before it, the VM is whole
        // (stopped, or still running if the stop itself was cancelled).
        context.Cancel.ThrowIfCancellationRequested();
        // Whatever still carries this VM's marker, or sits in its runtime folder, goes with it.
        // Recorded artifacts are undone only when the record is usable (then checked against the
        // VM's reach): an unusable one may be a copy of another VM's, naming that VM's things.
        scope ??= new RecordScope(Paths, name, tapName: null);
        var report = ArtifactUndo.UndoAll(LeftoverRecords(name).Concat(session?.State.Artifacts ?? Array.Empty<ArtifactRecord>()), scope, context.Narrate);
        foreach (var leftover in report.Leftovers)
            context.Warning($"VM '{name}' is removed, but {leftover}.");
        FinishRemoval(name);
        // Released and unlinked under the folder lock: never unlinked while held (see VmLock).
        vmLock.ReleaseAndDelete();
        context.Say($"Removed VM '{name}' and its disk");
    }

    private void FinishRemoval(string name)
    {
        try
        {
            store.Delete(name);
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.StateWriteFailed)
        {
            throw new MyHvException(MyHvErrorKind.StateWriteFailed,
                $"VM '{name}' is only partly removed: {e.Message} Get-MyVm lists it as Failed until Remove-MyVm -Name {name} " +
                $"(or Repair-MyVm -Name {name}) finishes the removal.", name, e);
        }
    }

    /// <summary>Recovers one VM: rolls back an orphaned journal, tears down a dead run, ends leftover processes; finishes a removal that did not.</summary>
    public RepairResult Repair(string name, OperationContext context)
    {
        VmNameRules.Validate(name);
        if (store.Exists(name) && store.IsBeingRemoved(name))
        {
            using var vmLock = VmLock.Acquire(Paths.LockFile(name), name, WriterLockWait, context.Cancel);
            if (!store.IsBeingRemoved(name)) return Repair(name, context);
            var report = ArtifactUndo.UndoAll(LeftoverRecords(name), new RecordScope(Paths, name, tapName: null), context.Narrate);
            FinishRemoval(name);
            vmLock.ReleaseAndDelete();
            context.Say($"VM '{name}': finished its removal");
            return new RepairResult
            {
                Name = name, Status = VmStatus.Stopped,
                Removed = report.Removed.Append($"VM folder {Paths.VmDirectory(name)} (a removal that had not finished)").ToArray(),
                Leftovers = report.Leftovers.ToArray(),
            };
        }
        using var session = Open(name, WriterLockWait, context, out var removedByReconcile);
        var removed = new List<string>(removedByReconcile);
        var leftovers = new List<string>();
        if (!session.State.Status.IsLive())
        {
            var report = ArtifactUndo.UndoAll(session.State.Artifacts.Concat(LeftoverRecords(name)), reconciler.ScopeOf(session), context.Narrate);
            removed.AddRange(report.Removed);
            leftovers.AddRange(report.Leftovers);
            if (session.State.Artifacts.Count > 0)
                session.Save(session.State with { Artifacts = report.Remaining.Where(r => r.Step != "leftover").ToList() });
        }
        return new RepairResult { Name = name, Status = session.State.Status, Removed = removed.ToArray(), Leftovers = leftovers.ToArray() };
    }

    /// <summary>
    /// Artifacts of a VM that is not running, found by name rather than by record: the module's
    /// programs (QEMU, virtiofsd) that have a path directly in its runtime folder as a whole
    /// argument (never a substring: another home's folder may end with this one), mounts under
    /// that folder (read-only bind mounts of shared folders, newest first, as
    /// /proc/self/mountinfo lists them), helper lock files, the runtime folder. They are undone
    /// together with the VM's recorded artifacts, ordered by Seq: the processes first and the
    /// mounts next (above any ledger Seq), the runtime folder last (below any), so no folder is
    /// deleted while a mount is still under it.
    /// </summary>
    private IEnumerable<ArtifactRecord> LeftoverRecords(string name)
    {
        var runtime = Paths.RuntimeDirectory(name);
        foreach (var program in RecordScope.KnownPrograms)
            yield return new ArtifactRecord
            {
                Seq = int.MaxValue, Kind = ArtifactKind.Process, Step = "leftover", Program = program, Marker = Paths.ProcessMarker(name),
            };
        foreach (var mountPoint in BindMounts.MountPointsUnder(runtime))
            yield return new ArtifactRecord { Seq = int.MaxValue - 1, Kind = ArtifactKind.Mount, Step = "leftover", Path = mountPoint };
        foreach (var lockFile in VirtiofsdLauncher.LockFilesUnder(runtime))
            yield return new ArtifactRecord { Seq = 1, Kind = ArtifactKind.HelperLockFile, Step = "leftover", Path = lockFile };
        yield return new ArtifactRecord { Seq = 0, Kind = ArtifactKind.Directory, Step = "leftover", Path = runtime };
    }

    private VmInfo Info(VmSession session) =>
        new(session.Definition, session.State, session.Problems.Concat(session.RecordProblems).ToList(), Paths.VmDirectory(session.Name));

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
        // After the start journal's recovery: a checkpoint killed mid-save is undone through the QEMU that still runs.
        var undone = checkpointer.RecoverInterrupted(session, context);
        if (undone.Count > 0) removed = removed.Concat(undone).ToList();
        // A rolled-back restore may have written back the definition from before it.
        if (removed.Count > 0) session.Redefine(store.ReadDefinition(name));
        // Every command that opens the VM keeps its console log bounded (see ConsoleLog).
        ConsoleLog.Bound(Paths.ConsoleLog(name));
        return session;
    }
}
