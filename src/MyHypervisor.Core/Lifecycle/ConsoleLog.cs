namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// A VM's serial console log, written by the hypervisor, kept to a bounded size by the module.
/// </summary>
/// <remarks>
/// Why this design: QEMU writes the console itself (a chardev file) and has no size limit, and
/// the module is not a daemon, so nothing of ours runs beside a VM to copy or trim its output.
/// QEMU opens the log with O_APPEND (<c>-chardev file,append=on</c>), so every write lands at
/// the file's current end: the module can truncate the file under QEMU's feet and QEMU simply
/// carries on at offset 0 (without O_APPEND it would go on at its old offset and leave a
/// sparse hole). Every command that opens the VM (Get-MyVm, Get-MyVmConsole, Get-MyVmStats,
/// Stop, Repair, the readiness wait of Start -Wait) calls <see cref="Bound"/>: once the log is
/// over <see cref="CapBytes"/>, its newest <see cref="CapBytes"/> move to console.log.1 (replacing
/// the older rotation) and console.log starts empty. So at most about 2 x 1 MiB is kept, plus
/// what the guest writes between two commands, and the newest output is never the part dropped.
/// The alternatives were worse: a socket or pipe chardev needs a reader beside QEMU at all times
/// (QEMU drops or blocks output without one), and a size-bounded copy needs the same daemon.
/// The cost: the bytes QEMU writes during the instant between the copy and the truncation are
/// lost, and a guest that floods its console while no command runs grows the file until the
/// next command.
/// </remarks>
public static class ConsoleLog
{
    /// <summary>console.log is rotated once it is larger than this; console.log.1 holds the newest this-many bytes before it.</summary>
    public const long CapBytes = 1024 * 1024;

    /// <summary>Tail reads at most this much of the end of the log (both files together).</summary>
    private const int TailWindow = 256 * 1024;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string RotatedPath(string path) => path + ".1";

    /// <summary>A new run starts a new log: called right before the hypervisor opens it (in append mode).</summary>
    public static void Reset(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnly };
        using (new FileStream(path, options)) { }
        File.Delete(RotatedPath(path));
    }

    /// <summary>Rotates the log when it is over <paramref name="cap"/>; returns true when it did.</summary>
    public static bool Bound(string path, long cap = CapBytes)
    {
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length <= cap) return false;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            Rotate(stream, path, cap);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A log that cannot be trimmed now (read-only home, full disk) is trimmed by a later command.
            return false;
        }
    }

    /// <summary>
    /// Copies the newest <paramref name="cap"/> bytes of an open log to console.log.1 (temp file and
    /// rename: a reader sees the old rotation or the new), then truncates the log. The read goes to
    /// the end right before the truncation, to keep the window in which QEMU's writes are lost small.
    /// </summary>
    internal static void Rotate(FileStream log, string path, long cap)
    {
        var keep = new byte[cap];
        long kept = 0;
        log.Seek(Math.Max(0, log.Length - cap), SeekOrigin.Begin);
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = log.Read(chunk, 0, chunk.Length)) > 0)
        {
            // A ring of the last `cap` bytes: the guest may still be writing while we read.
            for (var i = 0; i < n; i++) keep[(kept + i) % cap] = chunk[i];
            kept += n;
        }
        var rotated = RotatedPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(rotated)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var output = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
            {
                var length = (int)Math.Min(kept, cap);
                var first = (int)(kept > cap ? kept % cap : 0);
                output.Write(keep, first, length - first);
                output.Write(keep, 0, first);
            }
            log.SetLength(0);
            File.Move(temp, rotated, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines (within the window), across the rotation.</summary>
    public static IReadOnlyList<string> Tail(string path, int lines)
    {
        if (lines <= 0) return Array.Empty<string>();
        var current = ReadEnd(path, TailWindow);
        var older = current.Length < TailWindow ? ReadEnd(RotatedPath(path), TailWindow - current.Length) : Array.Empty<byte>();
        if (current.Length == 0 && older.Length == 0) return Array.Empty<string>();
        var text = System.Text.Encoding.UTF8.GetString(older.Concat(current).ToArray()).Replace("\r", string.Empty);
        var all = text.Split('\n');
        var count = all.Length > 0 && all[^1].Length == 0 ? all.Length - 1 : all.Length;
        return all.Take(count).Skip(Math.Max(0, count - lines)).ToList();
    }

    private static byte[] ReadEnd(string path, int window)
    {
        if (window <= 0 || !File.Exists(path)) return Array.Empty<byte>();
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = Math.Min(stream.Length, window);
            stream.Seek(-length, SeekOrigin.End);
            var buffer = new byte[length];
            var read = 0;
            int n;
            while (read < length && (n = stream.Read(buffer, read, (int)length - read)) > 0) read += n;
            return read == length ? buffer : buffer[..read];
        }
        catch (FileNotFoundException) { return Array.Empty<byte>(); }
    }
}

/// <summary>
/// Follows a console log for one text (the guest's readiness line), reading only what was added
/// since the last look, never the whole file again; it keeps just enough of the previous chunk to
/// find the text across a chunk boundary, and rotates the log itself when it grows over the cap
/// (a rotation or truncation seen from outside makes it start again at the new beginning).
/// </summary>
public sealed class ConsoleFollower(string path, string text, long cap = ConsoleLog.CapBytes)
{
    private long offset;
    private string carry = string.Empty;

    /// <summary>Every byte read so far, for the tests that prove nothing is read twice.</summary>
    public long BytesRead { get; private set; }
    public bool Found { get; private set; }

    /// <summary>Reads what is new; true once the text has been seen.</summary>
    public bool Poll()
    {
        if (Found) return true;
        if (!File.Exists(path)) return false;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length < offset) { offset = 0; carry = string.Empty; }
            stream.Seek(offset, SeekOrigin.Begin);
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                offset += n;
                BytesRead += n;
                // Latin-1 maps each byte to one char: a chunk boundary can never garble the (ASCII) text.
                var chunk = carry + System.Text.Encoding.Latin1.GetString(buffer, 0, n);
                if (chunk.Contains(text, StringComparison.Ordinal)) return Found = true;
                carry = chunk.Length < text.Length ? chunk : chunk[^(text.Length - 1)..];
            }
            if (offset > cap)
            {
                ConsoleLog.Rotate(stream, path, cap);
                offset = 0;
            }
        }
        catch (FileNotFoundException) { }
        return false;
    }
}
