using System.Text;
using System.Text.Json;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Ledger;

/// <summary>
/// The persisted form of a start attempt's ledger: JSON lines, appended and flushed to disk one
/// record at a time, so the plan to clean up outlives the process that made it. A record
/// appended again with the same Seq supersedes the earlier line (intent, then details).
/// </summary>
public sealed class ArtifactJournal
{
    private readonly string path;

    public ArtifactJournal(string path) => this.path = path;

    public string FilePath => path;
    public bool Exists => File.Exists(path);

    public sealed record Header(ProcessIdentity? Owner, Guid Attempt, DateTimeOffset StartedAt);

    private sealed record Line(string Type, Header? Begin, ArtifactRecord? Record);

    /// <summary>Starts a new journal; fails if one exists (an unrecovered attempt must be rolled back first).</summary>
    public void Begin(Header header)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        WriteLine(stream, new Line("begin", header, null));
    }

    public void Append(ArtifactRecord record)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        WriteLine(stream, new Line("artifact", null, record));
    }

    private static void WriteLine(FileStream stream, Line line)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(line, Json.Compact) + "\n");
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads the journal; a torn last line (the writer died mid-write) is ignored.</summary>
    public (Header? Header, IReadOnlyList<ArtifactRecord> Records) Read()
    {
        Header? header = null;
        var records = new SortedDictionary<int, ArtifactRecord>();
        if (!File.Exists(path)) return (null, Array.Empty<ArtifactRecord>());
        foreach (var text in File.ReadAllLines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            Line? line;
            try { line = JsonSerializer.Deserialize<Line>(text, Json.Compact); }
            catch (JsonException) { continue; }
            if (line?.Begin is not null) header = line.Begin;
            if (line?.Record is not null) records[line.Record.Seq] = line.Record;
        }
        return (header, records.Values.ToList());
    }

    /// <summary>Retires the journal once its artifacts are committed or undone.</summary>
    public void Retire()
    {
        if (File.Exists(path)) File.Delete(path);
    }
}
