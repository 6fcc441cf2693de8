using System.Text;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Volumes;

/// <summary>
/// Read-only bind mounts of shared folders (how a read-only volume served by QEMU's C virtiofsd,
/// which has no read-only export, is enforced on the host), and what /proc/self/mountinfo says
/// about mount points. Programs run with argument lists, never a shell string.
/// </summary>
public static class BindMounts
{
    private const string MountInfo = "/proc/self/mountinfo";
    private const int MaxSymlinkHops = 40;

    /// <summary>The programs a read-only bind mount needs, or the first one missing.</summary>
    public static string? MissingProgram() =>
        ProgramRunner.Find("mount") is null ? "mount" : ProgramRunner.Find("umount") is null ? "umount" : null;

    /// <summary>
    /// Bind-mounts <paramref name="source"/> on <paramref name="mountPoint"/> (created here, empty)
    /// and makes that mount read-only; verifies the result in mountinfo. The caller has recorded
    /// the mount in its ledger before calling, so a failure half-way is undone like any other.
    /// </summary>
    public static void BindReadOnly(string source, string mountPoint)
    {
        var mount = ProgramRunner.Find("mount") ?? throw new InvalidOperationException("'mount' (util-linux) is not installed");
        Directory.CreateDirectory(mountPoint, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var bind = ProgramRunner.Run(mount, new[] { "--bind", "--", source, mountPoint }, TimeSpan.FromSeconds(30));
        if (bind.ExitCode != 0)
            throw new InvalidOperationException($"could not bind-mount {source} on {mountPoint} (exit {bind.ExitCode}): {bind.Describe()}");
        var remount = ProgramRunner.Run(mount, new[] { "-o", "remount,bind,ro", "--", mountPoint }, TimeSpan.FromSeconds(30));
        if (remount.ExitCode != 0)
            throw new InvalidOperationException($"could not make the bind mount {mountPoint} read-only (exit {remount.ExitCode}): {remount.Describe()}");
        var options = MountOptionsOf(mountPoint);
        if (options is null || !options.Split(',').Contains("ro"))
            throw new InvalidOperationException($"the bind mount {mountPoint} is not read-only after the remount (options: {options ?? "not mounted"})");
    }

    /// <summary>
    /// Unmounts everything mounted on <paramref name="mountPoint"/> (stacked mounts included);
    /// a mount still busy is detached lazily, which removes it from the tree at once. Returns
    /// false when nothing was mounted there. Throws when a mount stays.
    /// </summary>
    public static bool Unmount(string mountPoint)
    {
        if (!IsMountPoint(mountPoint)) return false;
        var umount = ProgramRunner.Find("umount") ?? throw new InvalidOperationException("'umount' (util-linux) is not installed");
        string? problem = null;
        for (var attempt = 0; attempt < 16 && IsMountPoint(mountPoint); attempt++)
        {
            var result = ProgramRunner.Run(umount, new[] { "--", mountPoint }, TimeSpan.FromSeconds(30));
            if (result.ExitCode == 0 || !IsMountPoint(mountPoint)) continue;
            problem = result.Describe();
            result = ProgramRunner.Run(umount, new[] { "--lazy", "--", mountPoint }, TimeSpan.FromSeconds(30));
            if (result.ExitCode != 0 && IsMountPoint(mountPoint))
                throw new InvalidOperationException($"umount {mountPoint} failed: {problem}; umount --lazy: {result.Describe()}");
        }
        if (IsMountPoint(mountPoint)) throw new InvalidOperationException($"{mountPoint} is still mounted ({problem ?? "umount kept failing"})");
        return true;
    }

    /// <summary>True when something is mounted exactly on <paramref name="path"/>.</summary>
    public static bool IsMountPoint(string path)
    {
        var canonical = Canonical(path);
        return Entries().Any(e => e.MountPoint == canonical);
    }

    /// <summary>The mount options (field 6 of mountinfo) of the newest mount on <paramref name="path"/>, or null.</summary>
    public static string? MountOptionsOf(string path)
    {
        var canonical = Canonical(path);
        return Entries().LastOrDefault(e => e.MountPoint == canonical)?.Options;
    }

    /// <summary>
    /// Mount points at or below <paramref name="folder"/>, newest first (the order to unmount
    /// them in), each once. Paths are compared with symbolic links resolved, as the kernel
    /// records them.
    /// </summary>
    public static IReadOnlyList<string> MountPointsUnder(string folder)
    {
        var root = Canonical(folder);
        var prefix = root == "/" ? "/" : root + "/";
        return Entries().Select(e => e.MountPoint)
            .Where(p => p == root || p.StartsWith(prefix, StringComparison.Ordinal))
            .Reverse().Distinct().ToList();
    }

    private sealed record Entry(string MountPoint, string Options);

    private static IEnumerable<Entry> Entries()
    {
        foreach (var line in File.ReadAllLines(MountInfo))
        {
            // id parent major:minor root mount-point options ... (fields are space-separated; spaces
            // and backslashes inside paths are written as octal escapes).
            var fields = line.Split(' ');
            if (fields.Length > 5) yield return new Entry(Unescape(fields[4]), fields[5]);
        }
    }

    /// <summary>mountinfo writes space, tab, newline and backslash in paths as \ooo (octal).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else text.Append(field[i]);
        }
        return text.ToString();
    }

    private static bool IsOctal(string text, int start) =>
        start + 3 <= text.Length && text.Substring(start, 3).All(c => c is >= '0' and <= '7');

    /// <summary>
    /// The absolute path with every symbolic link resolved (as realpath(3), but a missing tail is
    /// kept as written), so it compares with the mount points the kernel lists.
    /// </summary>
    public static string Canonical(string path)
    {
        var pending = new LinkedList<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = "/";
        var hops = 0;
        while (pending.First is { } first)
        {
            var part = first.Value;
            pending.RemoveFirst();
            if (part == ".") continue;
            if (part == "..") { resolved = Path.GetDirectoryName(resolved) ?? "/"; continue; }
            var candidate = Path.Combine(resolved, part);
            string? target = null;
            try { target = new FileInfo(candidate).LinkTarget; }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            if (target is null) { resolved = candidate; continue; }
            if (++hops > MaxSymlinkHops) throw new IOException($"too many levels of symbolic links in {path}");
            var parts = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (var i = parts.Length - 1; i >= 0; i--) pending.AddFirst(parts[i]);
            if (target.StartsWith('/')) resolved = "/";
        }
        return resolved;
    }
}
