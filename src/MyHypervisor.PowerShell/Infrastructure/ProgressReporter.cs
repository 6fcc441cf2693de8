using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Progress bars for work on several VMs: one child bar per VM, and an overall bar when there
/// is more than one. Must be called on the pipeline thread (Core calls back synchronously).
/// </summary>
public sealed class ProgressReporter(Cmdlet cmdlet, string overallActivity, int total)
{
    private const int OverallId = 1;
    private readonly Dictionary<string, int> ids = new(StringComparer.Ordinal);
    private int done;

    public void Report(ProgressUpdate update)
    {
        if (!ids.TryGetValue(update.VmName, out var id)) ids[update.VmName] = id = OverallId + 1 + ids.Count;
        var record = new ProgressRecord(id, update.Activity, update.Status)
        {
            PercentComplete = Math.Clamp(update.Percent, -1, 100),
            ParentActivityId = total > 1 ? OverallId : -1,
            RecordType = update.Percent >= 100 ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        cmdlet.WriteProgress(record);
    }

    /// <summary>Marks one VM done on the overall bar.</summary>
    public void VmDone(string name)
    {
        if (ids.TryGetValue(name, out var id))
            cmdlet.WriteProgress(new ProgressRecord(id, "done", "done") { RecordType = ProgressRecordType.Completed, ParentActivityId = total > 1 ? OverallId : -1 });
        done++;
        if (total > 1)
            cmdlet.WriteProgress(new ProgressRecord(OverallId, overallActivity, $"{done} of {total} VMs")
            {
                PercentComplete = 100 * done / total,
                RecordType = done >= total ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
    }
}
