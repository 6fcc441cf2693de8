using System.Globalization;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Volumes;

namespace MyHypervisor.Core.Orphans;

/// <summary>
/// Finds what belongs to no VM record, from the artifacts themselves (their <see cref="OwnerMark"/>,
/// their place under the home's runtime folder, the socket a lock file names), never from a
/// journal or state file: those are exactly what is missing when a record was lost.
/// Processes and TAP devices carry their home, so other homes' are found too (<c>allHomes</c>);
/// mounts, lock files, runtime folders and temporary files are found for the current home only.
/// </summary>
public sealed class OrphanCensus(MyHvPaths paths)
{
    public IReadOnlyList<VmOrphan> Find(bool allHomes = false)
    {
        var records = new HomeRecords(paths);
        var orphans = new List<VmOrphan>();
        orphans.AddRange(Processes(records, allHomes));
        orphans.AddRange(TapDevices(records, allHomes));
        orphans.AddRange(Mounts(records));
        orphans.AddRange(HelperLockFiles(records));
        orphans.AddRange(RuntimeFolders(records));
        orphans.AddRange(TempFiles());
        return orphans;
    }

    /// <summary>True when <paramref name="home"/> is this census's home (paths compared as written by the module: full paths).</summary>
    private bool IsCurrent(string home) => home == paths.Home;

    private IEnumerable<VmOrphan> Processes(HomeRecords records, bool allHomes)
    {
        foreach (var pid in ProcFs.AllPids())
        {
            if (pid == Environment.ProcessId) continue;
            if (OwnerMark.OfProcess(pid) is not { } mark) continue;
            var current = IsCurrent(mark.Home);
            if (current ? records.Holds(mark.VmId, mark.VmName) : !allHomes || OtherHomeHolds(mark)) continue;
            if (ProcessLiveness.Identify(pid) is not { } identity) continue;
            // A mark naming this home on another user's process is not ours to act on (root reads
            // every environment): it is reported as another home's, never removed.
            if (current && OwnerOf(pid) != Host.Privileges.EffectiveUid) current = false;
            if (!current && !allHomes) continue;
            yield return new VmOrphan
            {
                Kind = OrphanKind.Process, Home = mark.Home, IsCurrentHome = current, VmName = mark.VmName, VmId = mark.VmId,
                Target = $"{Path.GetFileName(identity.Executable) ?? "?"} (pid {pid})", Pid = pid, Program = identity.Executable,
                Reason = $"runs for VM '{mark.VmName}' ({mark.VmId}), which has no record in {mark.Home}" +
                    (current || !IsCurrent(mark.Home) ? "" : "; it belongs to another user, so it is only reported"),
                Process = identity, Mark = mark,
            };
        }
    }

    private IEnumerable<VmOrphan> TapDevices(HomeRecords records, bool allHomes)
    {
        if (!Directory.Exists("/sys/class/net")) yield break;
        foreach (var device in Directory.EnumerateDirectories("/sys/class/net").Select(Path.GetFileName).OfType<string>())
        {
            if (OwnerMark.OfInterface(device) is not { } mark) continue;
            var current = IsCurrent(mark.Home);
            if (current ? records.Holds(mark.VmId, mark.VmName) : !allHomes || OtherHomeHolds(mark)) continue;
            yield return new VmOrphan
            {
                Kind = OrphanKind.TapDevice, Home = mark.Home, IsCurrentHome = current, VmName = mark.VmName, VmId = mark.VmId,
                Target = device, Reason = $"TAP device of VM '{mark.VmName}' ({mark.VmId}), which has no record in {mark.Home}", Mark = mark,
            };
        }
    }

    private static uint? OwnerOf(int pid) =>
        Mono.Unix.Native.Syscall.stat($"/proc/{pid}", out var st) == 0 ? st.st_uid : null;

    /// <summary>Another home's record, read the same way (read-only): its orphans are only the ones its own records do not hold.</summary>
    private static bool OtherHomeHolds(OwnerMark mark)
    {
        try { return new HomeRecords(new MyHvPaths(mark.Home)).Holds(mark.VmId, mark.VmName); }
        catch (Exception) { return true; }
    }

    private IEnumerable<VmOrphan> Mounts(HomeRecords records)
    {
        if (!Directory.Exists(paths.RuntimeRoot)) yield break;
        var root = BindMounts.Canonical(paths.RuntimeRoot) + "/";
        foreach (var mountPoint in BindMounts.MountPointsUnder(paths.RuntimeRoot))
        {
            if (!mountPoint.StartsWith(root, StringComparison.Ordinal)) continue;
            var name = mountPoint[root.Length..].Split('/')[0];
            if (records.HasName(name)) continue;
            yield return Own(OrphanKind.Mount, name, mountPoint, $"mounted in the runtime folder of VM '{name}', which has no record");
        }
    }

    private IEnumerable<VmOrphan> HelperLockFiles(HomeRecords records)
    {
        // A lock file's name is its socket's path with '/' as '.' (VirtiofsdLauncher.LockFileFor); a
        // VM name has no '.', so the name is what follows the runtime folder's prefix up to the next '.'.
        var prefix = paths.RuntimeRoot.TrimEnd('/').Replace('/', '.') + ".";
        foreach (var file in VirtiofsdLauncher.LockFilesUnder(paths.RuntimeRoot))
        {
            var rest = Path.GetFileName(file)[prefix.Length..];
            var name = rest.Split('.')[0];
            if (records.HasName(name)) continue;
            yield return Own(OrphanKind.HelperLockFile, name, file, $"virtiofsd lock file for a socket of VM '{name}', which has no record");
        }
    }

    private IEnumerable<VmOrphan> RuntimeFolders(HomeRecords records)
    {
        if (!Directory.Exists(paths.RuntimeRoot)) yield break;
        foreach (var folder in Directory.EnumerateDirectories(paths.RuntimeRoot))
        {
            var name = Path.GetFileName(folder);
            if (records.HasName(name)) continue;
            yield return Own(OrphanKind.RuntimeFolder, name, folder, $"runtime folder of VM '{name}', which has no record");
        }
    }

    /// <summary>
    /// Atomic writes name their temporary file <c>.&lt;file&gt;.&lt;pid&gt;.&lt;guid&gt;.tmp</c>: one
    /// whose writer is gone is left over. An overlay's <c>*.creating</c> is left over when nobody
    /// holds its VM's lock (its writer holds it while creating). Only vms/ is searched, never
    /// through a mount.
    /// </summary>
    private IEnumerable<VmOrphan> TempFiles()
    {
        if (!Directory.Exists(paths.VmsRoot)) yield break;
        foreach (var folder in Directory.EnumerateDirectories(paths.VmsRoot).Prepend(paths.VmsRoot))
        {
            var name = folder == paths.VmsRoot ? null : Path.GetFileName(folder);
            foreach (var file in Directory.EnumerateFiles(folder))
            {
                var fileName = Path.GetFileName(file);
                if (fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal) && WriterOf(fileName) is { } writer
                    && ProcFs.ReadStat(writer) is null)
                    yield return Own(OrphanKind.TempFile, name, file, $"temporary file of an atomic write whose writer (pid {writer}) is gone");
                else if (name is not null && fileName.EndsWith(".creating", StringComparison.Ordinal) && !IsLocked(name))
                    yield return Own(OrphanKind.TempFile, name, file, $"a file being created for VM '{name}', but no command holds that VM's lock");
            }
        }
    }

    /// <summary>The pid in <c>.&lt;file&gt;.&lt;pid&gt;.&lt;guid&gt;.tmp</c>, or null for any other shape.</summary>
    private static int? WriterOf(string fileName)
    {
        var parts = fileName[..^4].Split('.');
        return parts.Length >= 4 && parts[^1].Length == 32 && parts[^1].All(Uri.IsHexDigit)
            && int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
    }

    private bool IsLocked(string name)
    {
        var lockFile = paths.LockFile(name);
        if (!File.Exists(lockFile)) return false;
        using var probe = Storage.VmLock.TryAcquire(lockFile, TimeSpan.Zero);
        return probe is null;
    }

    private VmOrphan Own(OrphanKind kind, string? name, string target, string reason) => new()
    {
        Kind = kind, Home = paths.Home, IsCurrentHome = true, VmName = name, Target = target, Reason = reason,
    };
}
