using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// A standard PowerShell job (Get-Job, Wait-Job, Receive-Job) that runs a VM action for several
/// VMs on a background thread. Core's narration and progress go to the job's streams.
/// </summary>
public sealed class VmBatchJob : Job
{
    private readonly string[] names;
    private readonly Func<string, OperationContext, object?> action;
    private readonly bool passThru;
    private readonly CancellationTokenSource cancellation = new();

    public VmBatchJob(string name, string command, string[] names, Func<string, OperationContext, object?> action, bool passThru)
        : base(command, name)
    {
        this.names = names;
        this.action = action;
        this.passThru = passThru;
        PSJobTypeName = "MyVmJob";
    }

    public override string StatusMessage => JobStateInfo.State.ToString();
    public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Verbose.Count > 0 || Progress.Count > 0;
    public override string Location => Environment.MachineName;

    public void StartInBackground()
    {
        SetJobState(JobState.Running);
        Task.Run(Run);
    }

    private void Run()
    {
        var context = new OperationContext(
            message => Verbose.Add(new VerboseRecord(message)),
            update => Progress.Add(new ProgressRecord(1, update.Activity, update.Status) { PercentComplete = Math.Clamp(update.Percent, -1, 100) }),
            cancellation.Token,
            message => Warning.Add(new WarningRecord(message)));
        var failed = false;
        foreach (var name in names)
        {
            if (cancellation.IsCancellationRequested) break;
            try
            {
                var result = action(name, context);
                if (passThru && result is not null) Output.Add(PSObject.AsPSObject(result));
            }
            catch (MyHvException e)
            {
                failed = true;
                Error.Add(ErrorRecords.From(e, name));
            }
            catch (Exception e)
            {
                failed = true;
                Error.Add(new ErrorRecord(e, "VmJobFailed", ErrorCategory.NotSpecified, name));
            }
        }
        SetJobState(cancellation.IsCancellationRequested ? JobState.Stopped : failed ? JobState.Failed : JobState.Completed);
    }

    public override void StopJob() => cancellation.Cancel();

    protected override void Dispose(bool disposing)
    {
        if (disposing) cancellation.Dispose();
        base.Dispose(disposing);
    }
}
