using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Checkpoints;

/// <summary>
/// The records of a VM's memory checkpoints, one file each in the VM's folder, written atomically
/// and checked when read (<see cref="RecordShape.CheckpointProblem"/>): a hand-edited record that
/// cannot be used is an InvalidVmSpec naming the file and the field, before anything is touched.
/// </summary>
public sealed class CheckpointRecords(MyHvPaths paths)
{
    public const string FilePrefix = "checkpoint-";

    /// <summary>The record's file (the name is a checked checkpoint name: no '/', no "..").</summary>
    public string FileOf(string vm, string checkpointName) => Path.Combine(paths.VmDirectory(vm), $"{FilePrefix}{checkpointName}.json");

    public void Write(string vm, CheckpointRecord record) =>
        AtomicFile.WriteAllText(FileOf(vm, record.CheckpointName!), JsonSerializer.Serialize(record, Json.Options));

    /// <summary>The checked record, or null when the checkpoint has none.</summary>
    public CheckpointRecord? Read(string vm, string checkpointName)
    {
        var file = FileOf(vm, checkpointName);
        if (!File.Exists(file)) return null;
        CheckpointRecord? record;
        try { record = JsonSerializer.Deserialize<CheckpointRecord>(File.ReadAllText(file), Json.Options); }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            throw Unusable(vm, checkpointName, file, $"it is corrupt or truncated ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmRecordException(vm, file, $"it cannot be read ({StateWrite.CauseOf(e)}).", e);
        }
        if (RecordShape.CheckpointProblem(record, checkpointName) is { } problem) throw Unusable(vm, checkpointName, file, problem);
        return record;
    }

    /// <summary>Deletes the record if there is one (a removed checkpoint's, or a stale one no snapshot has any more).</summary>
    public void Delete(string vm, string checkpointName)
    {
        var file = FileOf(vm, checkpointName);
        StateWrite.Guard(file, () => { if (File.Exists(file)) File.Delete(file); }, vm);
    }

    /// <summary>Copies every record into another VM's folder (a full copy of the disk keeps its checkpoints).</summary>
    public static void CopyAll(string fromFolder, string toFolder)
    {
        foreach (var file in Directory.EnumerateFiles(fromFolder, FilePrefix + "*.json"))
        {
            var target = Path.Combine(toFolder, Path.GetFileName(file));
            AtomicFile.WriteAllText(target, File.ReadAllText(file));
        }
    }

    private static VmRecordException Unusable(string vm, string checkpointName, string file, string problem, Exception? inner = null) =>
        new(vm, file, $"{problem}. It records the machine checkpoint '{checkpointName}' was taken on; nothing was changed. " +
            $"Correct the file, or remove the checkpoint (Remove-MyVmCheckpoint -Name {vm} -CheckpointName {checkpointName}).", inner);
}
