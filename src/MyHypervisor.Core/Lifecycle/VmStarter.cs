using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Volumes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Start as a transaction: each step records its artifacts in the ledger before creating them,
/// and any failure undoes every artifact of this attempt, newest first. The steps and their fail
/// points: storage, runtime-dir, network, volumes, guest-channel, guest-agent, hypervisor-launch, api-ready, commit.
/// </summary>
public sealed class VmStarter(VmStore store, StartPreflight preflight, Func<string, IHypervisorDriver> drivers)
{
    private MyHvPaths Paths => store.Paths;

    public void Start(VmSession session, StartOptions options, OperationContext context)
    {
        var definition = options.Checkpoint is not null && options.Definition is { } restored ? restored : session.Definition;
        var name = definition.Name;
        if (session.State.Status.IsLive())
            throw new MyHvException(MyHvErrorKind.VmAlreadyRunning,
                $"VM '{name}' is already {(session.State.Status == VmStatus.Paused ? "running (paused; Resume-MyVm continues it)" : "running")} (pid {session.State.Hypervisor?.Pid}).", name);

        var driver = drivers(definition.Hypervisor);
        Progress(context, name, "Checking prerequisites", 2);
        StartPreflight.Result ready;
        try { ready = preflight.Check(definition, driver, context); }
        catch (OperationCanceledException failure)
        {
            // Stopped before the attempt created anything (the KVM probe cleans up after itself):
            // the status still says the start did not happen, and why.
            var message = CancelledMessage(name, StartSteps.Prepare);
            session.Save(session.State with { Status = VmStatus.Failed, Reason = message, StoppedAt = DateTimeOffset.UtcNow });
            throw new MyHvException(MyHvErrorKind.VmStartFailed, message, name, failure) { FailedStep = StartSteps.Prepare };
        }
        var journal = new ArtifactJournal(Paths.JournalFile(name));
        if (journal.Exists)
            throw new MyHvException(MyHvErrorKind.VmStartFailed,
                $"VM '{name}' cannot start: an earlier attempt could not be fully rolled back ({journal.FilePath}). " +
                $"Run Repair-MyVm -Name {name}, which retries the rollback and reports what is left.", name)
            { FailedStep = StartSteps.Prepare };
        preflight.SweepStaleRuntime(definition, context);

        var transaction = new StartTransaction(journal, context.Narrate, new RecordScope(Paths, name, definition.Network.TapName))
        {
            FailPointOperation = options.Checkpoint is null ? StartSteps.Operation : Checkpoints.VmCheckpointer.RestoreOperation,
        };
        LaunchedHypervisor? launched = null;
        try
        {
            // The persisted state is an artifact too: a failed attempt writes back what was there.
            var previous = store.ReadStateText(name);
            transaction.Intend(new ArtifactRecord
            {
                Kind = ArtifactKind.CommittedState, Step = StartSteps.Prepare, Scope = ArtifactScope.Attempt,
                Path = Paths.StateFile(name), PreviousContent = previous,
            });
            session.Save(session.State with { Status = VmStatus.Starting, Attempt = transaction.Attempt, Reason = null, ConsoleTail = null });

            Step(transaction, context, name, StartSteps.Storage, 10, () =>
            {
                PrepareStorage(transaction, definition, ready);
                if (options.Checkpoint is not null) Checkpoints.VmCheckpointer.TakeUndoPoint(transaction, Paths.OverlayFile(name));
                if (!ReferenceEquals(definition, session.Definition)) ReplaceDefinition(transaction, definition);
            });
            Step(transaction, context, name, StartSteps.RuntimeDirectory, 20, () => CreateRuntimeDirectory(transaction, name));
            if (definition.Network.Mode == NetworkMode.Bridge)
                Step(transaction, context, name, StartSteps.Network, 30, () => CreateTap(transaction, definition));
            if (definition.Volumes.Count > 0)
                Step(transaction, context, name, StartSteps.Volumes, 40, () => StartVolumes(transaction, definition, context.Cancel));
            Step(transaction, context, name, StartSteps.GuestChannel, 50, () => PrepareGuestChannel(transaction, driver, name));
            if (driver.SupportsGuestAgent)
                Step(transaction, context, name, StartSteps.GuestAgent, 55, () => PrepareGuestAgent(transaction, name));
            string? seed = null;
            if (definition.FirstBoot is not null)
                Step(transaction, context, name, StartSteps.Seed, 58, () => seed = FirstBoot.SeedStep.Create(transaction, definition, Paths.RuntimeDirectory(name)));

            var request = new LaunchRequest
            {
                Definition = definition,
                Image = ready.Image,
                OverlayDisk = Paths.OverlayFile(name),
                ConsoleLog = Paths.ConsoleLog(name),
                RuntimeDirectory = Paths.RuntimeDirectory(name),
                ApiSocket = Paths.ApiSocket(name),
                PidFile = Paths.PidFile(name),
                ChannelSocket = Paths.ChannelSocket(name),
                AgentSocket = Paths.AgentSocket(name),
                ConsoleSocket = Paths.ConsoleSocket(name),
                KernelCommandLine = GuestCommandLine.Build(definition, ready.Image),
                Accelerator = ready.Accelerator,
                TapDevice = definition.Network.TapName,
                VolumeSockets = definition.Volumes.Select(v => (v.Tag, Paths.VolumeSocket(name, v.Tag))).ToList(),
                SeedDisk = seed,
                Owner = OwnerOf(definition),
                LoadCheckpoint = options.Checkpoint,
            };
            int? sshPort = null;
            Step(transaction, context, name, StartSteps.HypervisorLaunch, 65, () => (launched, sshPort) = Launch(driver, request, transaction, context));
            Step(transaction, context, name, StartSteps.ApiReady, 80, () => driver.WaitUntilRunning(launched!.Endpoint, TimeSpan.FromSeconds(30), context.Cancel));
            Step(transaction, context, name, StartSteps.Commit, 90, () => session.Save(new VmState
            {
                Status = VmStatus.Running,
                Hypervisor = launched!.Process,
                Accelerator = ready.Accelerator,
                StartedAt = ProcFs.StartTimeOf(launched.Process.StartTicks),
                Attempt = transaction.Attempt,
                Artifacts = transaction.RunArtifacts,
                GuestAgent = ready.Image.GuestAgent && driver.SupportsGuestAgent,
                SshPort = sshPort,
            }));
            transaction.Retire();
            session.Redefine(definition);
            context.Say($"VM '{name}' is running ({launched!.Process}, {ready.Accelerator})");
            if (options.Checkpoint is not null) Checkpoints.VmCheckpointer.DropUndoPoint(transaction, Paths.ApiSocket(name), context);
        }
        catch (Exception failure)
        {
            throw RollBack(session, transaction, failure, launched is not null, context, options.Checkpoint);
        }

        // A resumed guest does not announce itself again: only its agent can tell it is there.
        if (options.WaitForGuest && options.Checkpoint is not null && !ready.Image.GuestAgent)
            context.Say($"VM '{name}': resumed from checkpoint '{options.Checkpoint}'; its image has no guest agent, so there is nothing to wait for");
        else if (options.WaitForGuest) WaitForGuest(session, driver, ready.Image, options, context);
    }

    /// <summary>
    /// Launches the hypervisor with the VM's SSH forward: a pinned port as it is (the preflight
    /// found it free), an automatic one chosen now, and chosen again when another program took
    /// it before QEMU could bind it.
    /// </summary>
    private static (LaunchedHypervisor, int?) Launch(IHypervisorDriver driver, LaunchRequest request, StartTransaction transaction, OperationContext context)
    {
        var net = request.Definition.Network;
        if (net.Mode != NetworkMode.User || !net.SshPortAutomatic)
        {
            var port = net.Mode == NetworkMode.User ? net.SshPort : null;
            return (driver.Launch(request with { SshPort = port }, transaction, context.Cancel), port);
        }
        for (var attempt = 1; ; attempt++)
        {
            var port = FirstBoot.SshPorts.FreeLoopbackPort();
            try
            {
                return (driver.Launch(request with { SshPort = port }, transaction, context.Cancel), port);
            }
            catch (InvalidOperationException e) when (attempt < FirstBoot.SshPorts.AutomaticAttempts && FirstBoot.SshPorts.IsForwardConflict(e.Message))
            {
                context.Say($"VM '{request.Definition.Name}': port {port} on 127.0.0.1 was taken before QEMU could bind it; choosing another");
            }
        }
    }

    private static void Step(StartTransaction transaction, OperationContext context, string vm, string step, int percent, Action body)
    {
        context.Cancel.ThrowIfCancellationRequested();
        Progress(context, vm, $"Step {step}", percent);
        transaction.BeginStep(step);
        body();
        transaction.StepDone(step);
    }

    private static void Progress(OperationContext context, string vm, string status, int percent) =>
        context.Report(vm, $"Starting VM '{vm}'", status, percent);

    private void PrepareStorage(StartTransaction transaction, VmDefinition definition, StartPreflight.Result ready)
    {
        var overlay = Paths.OverlayFile(definition.Name);
        // An existing overlay holds the guest's data: it is used as it is and never recorded,
        // so no rollback can ever delete it.
        if (File.Exists(overlay)) return;
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.OverlayDisk, Step = StartSteps.Storage, Scope = ArtifactScope.Attempt, Path = overlay });
        var temp = overlay + ".creating";
        var result = ProgramRunner.Run(ProgramRunner.Find("qemu-img")!,
            new[] { "create", "-q", "-f", "qcow2", "-b", ready.Image.Disk, "-F", ready.Image.DiskFormat, temp }, TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            File.Delete(temp);
            throw new InvalidOperationException($"qemu-img could not create the overlay: {result.Describe()}");
        }
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, overlay);
    }

    /// <summary>A restore's definition, recorded with what the file held first, so any failure writes that back.</summary>
    private void ReplaceDefinition(StartTransaction transaction, VmDefinition definition)
    {
        var file = Paths.DefinitionFile(definition.Name);
        transaction.Intend(new ArtifactRecord
        {
            Kind = ArtifactKind.ReplacedDefinition, Step = "storage", Scope = ArtifactScope.Attempt, Path = file, PreviousContent = File.ReadAllText(file),
        });
        store.WriteDefinition(definition);
    }

    /// <summary>The mark every process and TAP of this run carries (see Orphans.OwnerMark).</summary>
    private Orphans.OwnerMark OwnerOf(VmDefinition definition) => new(definition.Id, definition.Name, Paths.Home);

    private void CreateRuntimeDirectory(StartTransaction transaction, string name)
    {
        var runtime = Paths.RuntimeDirectory(name);
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.Directory, Step = StartSteps.RuntimeDirectory, Path = runtime });
        MyHvPaths.EnsurePrivateDirectory(Paths.Home);
        MyHvPaths.EnsurePrivateDirectory(Paths.RuntimeRoot);
        MyHvPaths.EnsurePrivateDirectory(runtime);
    }

    private void CreateTap(StartTransaction transaction, VmDefinition definition)
    {
        var tap = definition.Network.TapName!;
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.TapDevice, Step = StartSteps.Network, Name = tap });
        TapDevices.Create(tap, definition.Network.Bridge!, OwnerOf(definition).Alias);
    }

    private void StartVolumes(StartTransaction transaction, VmDefinition definition, CancellationToken cancel)
    {
        foreach (var volume in definition.Volumes)
            VirtiofsdLauncher.Start(volume, Paths.VolumeSocket(definition.Name, volume.Tag), OwnerOf(definition), transaction, cancel);
    }

    /// <summary>The hypervisor creates the channel's socket (QEMU's port, CH's hybrid vsock); the ledger owns it from here on.</summary>
    private void PrepareGuestChannel(StartTransaction transaction, IHypervisorDriver driver, string name) =>
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = StartSteps.GuestChannel, Path = driver.GuestChannelSocket(Paths, name) });

    /// <summary>
    /// The guest is ready: its agent tells the addresses once, for Get-MyVm's IPAddress (a short
    /// wait; an agent that does not answer yet leaves IPAddress empty, and the start succeeded anyway).
    /// </summary>
    private void RecordGuestAddresses(VmSession session, OperationContext context)
    {
        try
        {
            var addresses = Guest.GuestAddressRefresher.Fetch(Paths, session.Name, TimeSpan.FromSeconds(3), context.Cancel);
            if (addresses is not null) Guest.GuestAddressRefresher.Save(session, addresses);
        }
        catch (Exception e) when (e is Guest.GuestAgentUnavailableException or Guest.GuestAgentCommandException or IOException)
        {
            context.Say($"VM '{session.Name}': its guest agent did not tell its addresses yet ({e.Message})");
        }
    }

    /// <summary>The guest agent's port: its socket is the hypervisor's too, owned by the ledger from here on.</summary>
    private void PrepareGuestAgent(StartTransaction transaction, string name) =>
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = StartSteps.GuestAgent, Path = Paths.AgentSocket(name) });

    private MyHvException RollBack(VmSession session, StartTransaction transaction, Exception failure, bool launched, OperationContext context, string? checkpoint = null)
    {
        var step = transaction.CurrentStep;
        var name = session.Name;
        context.Say($"VM '{name}': step '{step}' failed ({failure.Message}); rolling back {transaction.Records.Count} artifact(s), newest first");
        Progress(context, name, "Rolling back", 95);
        var report = transaction.Rollback();
        var message = failure is OperationCanceledException ? CancelledMessage(name, step) : $"Starting VM '{name}' failed at step '{step}': {failure.Message}";
        if (checkpoint is not null)
            message = $"Restoring checkpoint '{checkpoint}' of VM '{name}' failed at step '{step}': " +
                $"{(failure is OperationCanceledException ? "cancelled (the command was stopped)" : failure.Message)}. The VM and its disk are as they were before.";
        if (report.Leftovers.Count > 0) message += $" Could not remove: {string.Join("; ", report.Leftovers)}. Run Repair-MyVm -Name {name}.";
        // A start that failed because the state could not be written leaves the state as it was
        // (the attempt's own commit, if any, was undone above): it is not overwritten now either.
        if (failure is MyHvException { Kind: MyHvErrorKind.StateWriteFailed })
            message += " The recorded state stays as it was.";
        else try
        {
            var before = store.ReadState(name);
            session.Save(before with
            {
                // A failed restore leaves the VM as it was (the rollback wrote its state back); a failed start is Failed.
                Status = checkpoint is not null && before.Status is VmStatus.Stopped or VmStatus.Failed ? before.Status : VmStatus.Failed,
                Hypervisor = null,
                Attempt = null,
                Reason = message,
                ConsoleTail = launched ? ConsoleLog.Tail(Paths.ConsoleLog(name), 20) : null,
                Artifacts = report.Remaining,
                StoppedAt = DateTimeOffset.UtcNow,
            });
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.StateWriteFailed)
        {
            // Disk full or read-only: the state keeps what it held (the attempt's own commit, if
            // any, was undone above); the user hears why, with the path.
            message += $" The failure could not be recorded either: {e.Message}";
        }
        return new MyHvException(MyHvErrorKind.VmStartFailed, message, name, failure)
        {
            FailedStep = step,
            Leftovers = report.Leftovers,
        };
    }

    /// <summary>The status reason of a start stopped by the user (Ctrl+C, PowerShell.Stop(), Stop-Job).</summary>
    private static string CancelledMessage(string name, string step) =>
        $"Starting VM '{name}' failed at step '{step}': cancelled (the command was stopped).";


    private void WaitForGuest(VmSession session, IHypervisorDriver driver, Images.GuestImage image, StartOptions options, OperationContext context)
    {
        var name = session.Name;
        var hypervisor = session.State.Hypervisor!;
        var timeout = options.EffectiveTimeout;
        // A guest resumed from a memory checkpoint said READY before it was saved and never says
        // it again, so its channel is not watched: its agent's answer counts at once instead of
        // after the channel's grace (which made every restore 5 s slower).
        var channel = options.Checkpoint is null ? driver.GuestChannelSocket(Paths, name) : null;
        context.Say(options.Checkpoint is null
            ? $"VM '{name}': waiting up to {timeout.TotalSeconds:0} s for the guest to report ready"
            : $"VM '{name}': waiting up to {timeout.TotalSeconds:0} s for the guest agent of the resumed guest (it announced itself before checkpoint '{options.Checkpoint}' was saved)");
        try
        {
            var agent = image.GuestAgent && driver.SupportsGuestAgent;
            var source = GuestReadiness.Wait(channel, Paths.ConsoleLog(name), image.ReadyLine, timeout,
                () => ProcessLiveness.IsAlive(hypervisor),
                elapsed => context.Report(name, $"Starting VM '{name}'", $"Waiting for the guest ({elapsed.TotalSeconds:0} s)",
                    95 + (int)Math.Min(4, 4 * elapsed.TotalSeconds / timeout.TotalSeconds)),
                context.Cancel, agent ? Paths.AgentSocket(name) : null, driver.ConnectGuestChannel);
            context.Say($"VM '{name}': the guest reported ready through its {source.ToString().ToLowerInvariant()}");
            if (agent) RecordGuestAddresses(session, context);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new MyHvException(MyHvErrorKind.VmStartFailed,
                $"VM '{name}' was started, but {e.Message}. It is left as it is; see Get-MyVmConsole -Name {name}.", name, e)
            { FailedStep = StartSteps.Wait };
        }
        finally
        {
            context.Report(name, $"Starting VM '{name}'", "Done", 100);
        }
    }
}
