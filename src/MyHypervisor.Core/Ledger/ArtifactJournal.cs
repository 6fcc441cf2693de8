using System.Text;
using System.Text.Json;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// The persisted form of a start attempt's ledger: JSON lines, appended and handed to the kernel
/// one record at a time, before the artifact exists, so the plan to clean up outlives the process
/// that made it (even SIGKILL). A record appended again with the same Seq supersedes the earlier
/// line (intent, then details).
/// </summary>
/// <remarks>
/// Only a record naming an artifact that outlives a host crash (the overlay disk) is fsynced. The
/// others guard against the death of this process, which the page cache already outlives; after a
/// host crash their processes are gone, their runtime files are swept by the next start, and the
/// state file (written atomically, with fsync) stays consistent. A torn last line is ignored on
/// read. An fsync per record was most of a start's own cost on a busy disk (bench/results.md).
/// </remarks>
public sealed class ArtifactJournal
{
    private readonly string path;

    public ArtifactJournal(string path) => this.path = path;

    public string FilePath => path;
    public bool Exists => File.Exists(path);

    public sealed record Header(ProcessIdentity? Owner, Guid Attempt, DateTimeOffset StartedAt);

    private sealed record Line(string Type, Header? Begin, ArtifactRecord? Record, string? Step = null);

    /// <summary>Starts a new journal; fails if one exists (an unrecovered attempt must be rolled back first).</summary>
    public void Begin(Header header)
    {
        var created = false;
        try
        {
            StateWrite.Guard(path, () =>
            {
                using var stream = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                created = true;
                WriteLine(stream, new Line("begin", header, null));
            });
        }
        catch (Errors.MyHvException) when (created)
        {
            // Created but not written (no space left): a journal without its header is no plan; it goes.
            try { File.Delete(path); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Appends a record; a record that cannot be written fails the step before its artifact is made.</summary>
    public void Append(ArtifactRecord record) => StateWrite.Guard(path, () =>
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        WriteLine(stream, new Line("artifact", null, record), durable: record.Kind == ArtifactKind.OverlayDisk);
    });

    /// <summary>
    /// Notes that the attempt is over (rolled back, but with leftovers): a later recovery may
    /// retry the undo even while the owner process still lives.
    /// </summary>
    public void MarkEnded()
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
            WriteLine(stream, new Line("end", null, null));
        }
        catch (IOException) { /* the owner check then waits for the owner to be gone */ }
    }

    /// <summary>True once the attempt has been marked over (see <see cref="MarkEnded"/>).</summary>
    public bool IsEnded() => Lines().Any(l => l.Type == "end");

    /// <summary>
    /// Notes that a step has begun, so a crash recovery can name the step the attempt died in
    /// (steps such as api-ready and commit record no artifact of their own). Not fsynced.
    /// </summary>
    public void MarkStep(string step) => StateWrite.Guard(path, () =>
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        WriteLine(stream, new Line("step", null, null, step));
    });

    private static void WriteLine(FileStream stream, Line line, bool durable = false)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(line, Json.Compact) + "\n");
        stream.Write(bytes);
        stream.Flush(flushToDisk: durable);
    }

    /// <summary>Reads the journal; a torn last line (the writer died mid-write) is ignored.</summary>
    public (Header? Header, IReadOnlyList<ArtifactRecord> Records) Read()
    {
        Header? header = null;
        var records = new SortedDictionary<int, ArtifactRecord>();
        foreach (var line in Lines())
        {
            if (line.Begin is not null) header = line.Begin;
            if (line.Record is not null) records[line.Record.Seq] = line.Record;
        }
        return (header, records.Values.ToList());
    }

    /// <summary>The last step the attempt began (see <see cref="MarkStep"/>), or null when none was noted.</summary>
    public string? LastStep() => Lines().LastOrDefault(l => l.Type == "step" && l.Step is not null)?.Step;

    /// <summary>The journal's whole lines; a torn last line (the writer died mid-write) is skipped.</summary>
    private IEnumerable<Line> Lines()
    {
        if (!File.Exists(path)) yield break;
        foreach (var text in File.ReadAllLines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            Line? line;
            try { line = JsonSerializer.Deserialize<Line>(text, Json.Compact); }
            catch (JsonException) { continue; }
            if (line is not null) yield return line;
        }
    }

    /// <summary>Retires the journal once its artifacts are committed or undone.</summary>
    public void Retire()
    {
        if (File.Exists(path)) File.Delete(path);
    }
}
