namespace MyHypervisor.Core.Storage;

/// <summary>
/// Writes a file so that readers see the old content or the new, never a torn mix:
/// temp file in the same folder, flush to disk, rename over the target.
/// </summary>
public static class AtomicFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void WriteAllText(string path, string content) => WriteAllText(path, content, durable: true);

    /// <summary>
    /// As above; with <paramref name="durable"/> false the new content is not flushed to disk before
    /// the rename: readers (and a later command after this process dies) still see the old content
    /// or the new, but after a host crash the file may hold the old content.
    /// </summary>
    public static void WriteAllText(string path, string content, bool durable) =>
        StateWrite.Guard(path, () => Write(path, content, durable));

    private static void Write(string path, string content, bool durable)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnly,
            };
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
                writer.Flush();
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (IOException) { /* read-only: the temp file could not have been made either */ }
        }
    }
}
