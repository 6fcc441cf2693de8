using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Host;
using MyHypervisor.Core.Hypervisors;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Networking;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Volumes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// Everything a start checks before it creates anything: image, programs, bridge, socket path
/// lengths, accelerator, and leftovers of an earlier crashed run in the runtime dir.
/// </summary>
public sealed class StartPreflight(MyHvPaths paths, ImageCatalog images, AcceleratorSelector accelerators)
{
    /// <summary>sun_path holds 108 bytes including the terminating NUL.</summary>
    private const int MaxSocketPath = 107;

    public sealed record Result(GuestImage Image, string HypervisorExecutable, string Accelerator, string AcceleratorReason);

    public Result Check(VmDefinition definition, IHypervisorDriver driver, OperationContext context)
    {
        var name = definition.Name;
        var image = images.Resolve(definition.ImagePath);
        var executable = driver.FindExecutable() ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
            $"The {driver.Name} hypervisor is not installed. See Test-MyVmHost.", name);
        if (ProgramRunner.Find("qemu-img") is null)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, "qemu-img (Debian package qemu-utils) is not installed. See Test-MyVmHost.", name);
        // Privileged features this user lacks are refused here, before any artifact exists.
        PrivilegedFeatures.Check(name, definition.Network.Mode, definition.Volumes);
        if (definition.Network.Mode == NetworkMode.Bridge && !TapDevices.BridgeExists(definition.Network.Bridge!))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{name}': the bridge '{definition.Network.Bridge}' does not exist on this host.", name);
        if (definition.Volumes.Count > 0 && VirtiofsdLauncher.Find() is null)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, "virtiofsd is not installed. See Test-MyVmHost.", name);
        foreach (var volume in definition.Volumes)
            if (PathRules.Problem(volume.Path) is { } pathProblem)
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}': the volume folder cannot be shared: {pathProblem}.", name);
        foreach (var volume in definition.Volumes)
            if (!Directory.Exists(volume.Path))
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{name}': the volume folder '{volume.Path}' no longer exists.", name);
        CheckSocketPaths(definition);
        GuestCommandLine.CheckUserParts(definition);
        if (image.BootsFromFirmware) GuestCommandLine.CheckFirmwareBoot(definition);
        if (definition.Network is { Mode: NetworkMode.User, SshPortAutomatic: false, SshPort: { } pinned } && !FirstBoot.SshPorts.IsFree(pinned))
            throw new MyHvException(MyHvErrorKind.VmStartFailed,
                $"VM '{name}': its SSH port {pinned} on 127.0.0.1 is in use by another program. Free it, or re-create the VM with another -SshPort (or -SshPort 0 for one chosen at each start).", name)
            { FailedStep = StartSteps.Prepare };
        if (image.BootsFromFirmware && !driver.BootsFirmwareImages)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{name}': the image '{image.Name}' boots through firmware, which the {driver.DisplayName} engine does not offer here; use a direct-kernel image or -Hypervisor qemu.", name);
        var (accelerator, reason) = driver.FixedAccelerator(name)
            ?? accelerators.Select(executable, image.Kernel, context.Narrate, context.Cancel);
        context.Say($"VM '{name}': accelerator {accelerator} ({reason})");
        return new Result(image, executable, accelerator, reason);
    }

    private void CheckSocketPaths(VmDefinition definition)
    {
        var sockets = new List<string> { paths.ApiSocket(definition.Name), paths.ChannelSocket(definition.Name), paths.ConsoleSocket(definition.Name) };
        sockets.AddRange(definition.Volumes.Select(v => paths.VolumeSocket(definition.Name, v.Tag)));
        var tooLong = sockets.FirstOrDefault(s => System.Text.Encoding.UTF8.GetByteCount(s) > MaxSocketPath);
        if (tooLong is not null)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"VM '{definition.Name}': the socket path '{tooLong}' is longer than the {MaxSocketPath} bytes a unix socket allows. Use a shorter MYHV_HOME.", definition.Name);
    }

    /// <summary>
    /// Removes sockets, pid files and helper lock files an earlier crashed run left in the runtime
    /// dir, once it is certain no live process owns them: a hypervisor or helper that still has a
    /// path in the dir as a whole argument stops the start instead, so nothing live is ever
    /// unlinked. Whole paths only: a VM of the same name in another home whose path ends with
    /// this one is not this VM's, and never stops its start.
    /// </summary>
    public void SweepStaleRuntime(VmDefinition definition, OperationContext context)
    {
        var runtime = paths.RuntimeDirectory(definition.Name);
        var owners = RecordScope.KnownPrograms
            .SelectMany(program => ProcessLiveness.FindByMarker(paths.ProcessMarker(definition.Name), program)).ToList();
        if (owners.Count > 0)
            throw new MyHvException(MyHvErrorKind.VmStartFailed,
                $"VM '{definition.Name}' cannot start: {string.Join(", ", owners)} still uses its runtime folder {runtime}. " +
                $"Run 'Repair-MyVm -Name {definition.Name}' to end leftover processes of this VM.", definition.Name)
            { FailedStep = StartSteps.Prepare };
        foreach (var lockFile in VirtiofsdLauncher.LockFilesUnder(runtime))
        {
            context.Say($"Removing stale helper lock file {lockFile}");
            File.Delete(lockFile);
        }
        if (Directory.Exists(runtime))
        {
            // A mount left under it (a read-only bind mount of a shared folder) is unmounted first:
            // the folder is never deleted through a mount (the Directory undo refuses to).
            var stale = BindMounts.MountPointsUnder(runtime)
                .Select(m => new ArtifactRecord { Kind = ArtifactKind.Mount, Step = StartSteps.Prepare, Path = m })
                .Append(new ArtifactRecord { Kind = ArtifactKind.Directory, Step = StartSteps.Prepare, Path = runtime });
            context.Say($"Removing stale runtime folder {runtime}");
            foreach (var record in stale)
            {
                var outcome = ArtifactUndo.Undo(record);
                context.Say($"  {outcome}");
                if (outcome.Result == UndoResult.Failed)
                    throw new MyHvException(MyHvErrorKind.VmStartFailed,
                        $"VM '{definition.Name}' cannot start: its stale runtime folder could not be cleaned: {outcome}. " +
                        $"Run 'Repair-MyVm -Name {definition.Name}'.", definition.Name)
                    { FailedStep = StartSteps.Prepare };
            }
        }
    }
}
