using System.Management.Automation;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Progress bars for work on several VMs: one child bar per VM, and an overall bar (the parent
/// of the VM bars) when there is more than one. The overall bar is written before the first VM's
/// own bar, so a host never sees a child whose parent it does not know. Records go to a sink:
/// the cmdlet's WriteProgress (on the pipeline thread) or a job's Progress collection.
/// </summary>
public sealed class ProgressReporter
{
    public const int OverallId = 1;
    private readonly Action<ProgressRecord> write;
    private readonly string overallActivity;
    private readonly int total;
    private readonly Dictionary<string, (int Id, string Activity)> bars = new(StringComparer.Ordinal);
    private int done;

    public ProgressReporter(Action<ProgressRecord> write, string overallActivity, int total)
    {
        this.write = write;
        this.overallActivity = overallActivity;
        this.total = total;
    }

    public ProgressReporter(Cmdlet cmdlet, string overallActivity, int total)
        : this(record => cmdlet.WriteProgress(record), overallActivity, total) { }

    private int ParentId => total > 1 ? OverallId : -1;

    /// <summary>Work on one VM begins: the overall bar names it ("VM 'b' (2 of 3)").</summary>
    public void VmBegin(string name)
    {
        if (total > 1)
            write(new ProgressRecord(OverallId, overallActivity, $"VM '{name}' ({done + 1} of {total})")
            {
                PercentComplete = 100 * done / total,
            });
    }

    public void Report(ProgressUpdate update)
    {
        if (!bars.TryGetValue(update.VmName, out var bar)) bar = (OverallId + 1 + bars.Count, update.Activity);
        bars[update.VmName] = bar with { Activity = update.Activity };
        write(new ProgressRecord(bar.Id, update.Activity, update.Status)
        {
            PercentComplete = Math.Clamp(update.Percent, -1, 100),
            ParentActivityId = ParentId,
            RecordType = update.Percent >= 100 ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });
    }

    /// <summary>Work on one VM ended (done or failed): its bar is completed, the overall bar advances.</summary>
    public void VmDone(string name)
    {
        if (bars.TryGetValue(name, out var bar))
            write(new ProgressRecord(bar.Id, bar.Activity, "Done")
            {
                PercentComplete = 100,
                RecordType = ProgressRecordType.Completed,
                ParentActivityId = ParentId,
            });
        done++;
        if (total > 1)
            write(new ProgressRecord(OverallId, overallActivity, $"{done} of {total} VMs done")
            {
                PercentComplete = 100 * done / total,
                RecordType = done >= total ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
    }
}
