using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Transactions;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Cloning;

/// <summary>
/// Copy-MyVm: a new VM from a stopped one, as a transaction whose fail points are clone.prepare,
/// clone.disk, clone.definition and clone.commit. Everything is built in a hidden staging folder
/// (vms/.clone-&lt;new&gt;.staging, never listed as a VM) and moved into place in one rename at
/// commit, so no half VM is ever visible; a failure, or the death of the process (rolled back by
/// the next command, see <see cref="RecoverInterrupted"/>), leaves nothing of the new VM.
/// </summary>
/// <remarks>
/// Full copy: the new VM gets a byte copy of the source's disk.qcow2 (an overlay on the image's
/// read-only disk, like the source's). Linked: the source's disk is copied once into the new
/// VM's folder as base.qcow2, made read-only (0400), and the new VM's disk.qcow2 is an empty
/// overlay on it (a relative backing path, so the folder can move). The chain is safe from the
/// source's later writes because the base is a separate file that nothing writes: the source
/// keeps writing its own disk.qcow2, which is not in the clone's chain, and QEMU opens a backing
/// file read-only. Resetting the clone to the source as it was is a new, empty overlay.
/// </remarks>
public sealed class VmCloner(VmStore store)
{
    public const string Operation = "clone";
    private const string JournalPattern = ".clone-*.journal";
    private MyHvPaths Paths => store.Paths;

    public static string JournalFile(MyHvPaths paths, string newName) => Path.Combine(paths.VmsRoot, $".clone-{newName}.journal");
    private string StagingFolder(string newName) => Path.Combine(Paths.VmsRoot, $".clone-{newName}.staging");

    /// <summary>Rolls back clones whose process died; cheap when there are none (one directory glob).</summary>
    public IReadOnlyList<string> RecoverInterrupted(OperationContext context) =>
        OrphanedTransactions.Recover(Paths.VmsRoot, JournalPattern, context.Narrate, StillOurs);

    /// <summary>
    /// The new VM's folder is the attempt's only while it holds the attempt's definition (its id in
    /// the record's Name): once the dead copy's lock was released, New-MyVm may have made a VM of
    /// that name, which no rollback may touch.
    /// </summary>
    /// The same holds for the new name's lock file.
    private bool StillOurs(ArtifactRecord record)
    {
        if (record.Name is null || record.Kind is not (ArtifactKind.Directory or ArtifactKind.File)) return true;
        var folder = record.Kind == ArtifactKind.Directory
            ? record.Path!
            : Paths.VmDirectory(Path.GetFileNameWithoutExtension(record.Path!));
        var file = Path.Combine(folder, "definition.json");
        if (!File.Exists(file)) return !Directory.Exists(folder);
        try { return JsonSerializer.Deserialize<VmDefinition>(File.ReadAllText(file), Json.Options)?.Id.ToString() == record.Name; }
        catch (JsonException) { return false; }
    }

    public VmDefinition Clone(VmSession source, string newName, bool linked, OperationContext context)
    {
        var name = source.Name;
        VmNameRules.Validate(newName);
        if (source.State.Status is not (VmStatus.Stopped or VmStatus.Failed))
            throw new MyHvException(MyHvErrorKind.VmAlreadyRunning,
                $"VM '{name}' is {source.State.Status.ToString().ToLowerInvariant()}: only a stopped VM can be copied (its disk must not change during the copy). Stop it first.", name);
        if (store.Exists(newName) || Directory.Exists(Paths.VmDirectory(newName)))
            throw new MyHvException(MyHvErrorKind.InvalidVmName, $"A VM named '{newName}' already exists.", newName);

        MyHvPaths.EnsurePrivateDirectory(Paths.VmsRoot);
        var lockFile = Paths.LockFile(newName);
        var lockExisted = File.Exists(lockFile);
        OperationTransaction transaction;
        try { transaction = new OperationTransaction(Operation, new ArtifactJournal(JournalFile(Paths, newName)), context.Narrate); }
        catch (IOException)
        {
            throw new MyHvException(MyHvErrorKind.VmBusy, $"Another Copy-MyVm is creating '{newName}' right now.", newName);
        }
        VmLock? newLock = null;
        var definition = NewDefinition(source.Definition, newName);
        try
        {
            // The new name's lock keeps New-MyVm and another copy off the name until the commit.
            if (!lockExisted)
                transaction.Intend(new ArtifactRecord
                {
                    Kind = ArtifactKind.File, Step = "prepare", Path = lockFile, Scope = ArtifactScope.Attempt, Name = definition.Id.ToString(),
                });
            newLock = VmLock.Acquire(lockFile, newName, VmManager.WriterLockWait, context.Cancel);
            var staging = StagingFolder(newName);
            var final = Paths.VmDirectory(newName);
            Report(context, name, "Preparing", 5);
            transaction.Step("prepare", context.Cancel, () =>
            {
                transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.Directory, Step = "prepare", Path = staging, Scope = ArtifactScope.Attempt });
                MyHvPaths.EnsurePrivateDirectory(staging);
            });
            Report(context, name, linked ? "Freezing a copy of the disk" : "Copying the disk", 20);
            transaction.Step("disk", context.Cancel, () => CopyDisk(name, staging, linked, context));
            Report(context, name, "Writing the definition", 80);
            transaction.Step("definition", context.Cancel, () =>
            {
                AtomicFile.WriteAllText(Path.Combine(staging, "definition.json"), JsonSerializer.Serialize(definition, Json.Options));
                AtomicFile.WriteAllText(Path.Combine(staging, "state.json"), JsonSerializer.Serialize(new VmState(), Json.Options));
            });
            Report(context, name, "Committing", 90);
            transaction.Step("commit", context.Cancel, () =>
            {
                if (Directory.Exists(final))
                    throw new MyHvException(MyHvErrorKind.InvalidVmName, $"A VM named '{newName}' already exists.", newName);
                transaction.Intend(new ArtifactRecord
                {
                    Kind = ArtifactKind.Directory, Step = "commit", Path = final, Scope = ArtifactScope.Attempt, Name = definition.Id.ToString(),
                });
                Directory.Move(staging, final);
            });
            transaction.Commit();
            Report(context, name, "Done", 100);
            context.Say($"Copied VM '{name}' to '{newName}' ({(linked ? "linked: an overlay on a frozen copy of its disk" : "a full copy of its disk")})");
            return definition;
        }
        catch (Exception failure)
        {
            var step = transaction.CurrentStep;
            context.Say($"Copying '{name}' to '{newName}' failed at step '{step}' ({failure.Message}); rolling back");
            // The lock goes first: its file may be one of the artifacts to undo.
            newLock?.Dispose();
            newLock = null;
            var report = transaction.Rollback();
            if (failure is MyHvException { Kind: MyHvErrorKind.InvalidVmName } taken) throw taken;
            var reason = failure is OperationCanceledException ? "the copy was cancelled" : failure.Message;
            var message = $"Copying VM '{name}' to '{newName}' failed at step '{step}': {reason}. Nothing of '{newName}' was kept.";
            if (report.Leftovers.Count > 0) message = $"Copying VM '{name}' to '{newName}' failed at step '{step}': {reason}. Could not remove: {string.Join("; ", report.Leftovers)}.";
            throw new MyHvException(MyHvErrorKind.StateWriteFailed, message, newName, failure) { FailedStep = step, Leftovers = report.Leftovers };
        }
        finally
        {
            newLock?.Dispose();
        }
    }

    private void CopyDisk(string sourceName, string staging, bool linked, OperationContext context)
    {
        var disk = Paths.OverlayFile(sourceName);
        // A VM never started has no disk yet: the copy gets its own at its first start, as the source would.
        if (!File.Exists(disk)) { context.Say($"VM '{sourceName}' has no disk yet (never started); the copy gets one at its first start"); return; }
        var target = Path.Combine(staging, linked ? "base.qcow2" : "disk.qcow2");
        File.Copy(disk, target);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // A full copy keeps the disk's checkpoints, so it keeps their records of the machine each was taken on.
        if (!linked) { Checkpoints.CheckpointRecords.CopyAll(Paths.VmDirectory(sourceName), staging); return; }
        // Frozen: nothing may write the base any more.
        File.SetUnixFileMode(target, UnixFileMode.UserRead);
        var overlay = Path.Combine(staging, "disk.qcow2");
        var result = ProgramRunner.Run(ProgramRunner.Find("qemu-img") ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                "qemu-img (Debian package qemu-utils) is not installed. See Test-MyVmHost.", sourceName),
            new[] { "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", overlay }, TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0) throw new InvalidOperationException($"qemu-img could not create the overlay: {result.Describe()}");
        File.SetUnixFileMode(overlay, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>The source's settings under a new name and id; the MAC address and TAP name follow from the new id.</summary>
    private static VmDefinition NewDefinition(VmDefinition source, string newName)
    {
        var id = Guid.NewGuid();
        return source with
        {
            Name = newName,
            Id = id,
            CreatedAt = DateTimeOffset.UtcNow,
            Network = source.Network with
            {
                MacAddress = source.Network.Mode == NetworkMode.None ? null : NetworkInterfaceNames.MacAddress(id),
                TapName = source.Network.Mode == NetworkMode.Bridge ? NetworkInterfaceNames.TapName(id) : null,
            },
            Volumes = source.Volumes.Select(v => new VmVolume { Path = v.Path, Tag = v.Tag, ReadOnly = v.ReadOnly }).ToList(),
        };
    }

    private static void Report(OperationContext context, string vm, string status, int percent) =>
        context.Report(vm, $"Copying VM '{vm}'", status, percent);
}
