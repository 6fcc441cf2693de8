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
    private readonly string overallActivity;
    private readonly Type commandType;
    private readonly int throttle;
    private readonly CancellationTokenSource cancellation = new();
    private Task? running;

    public VmBatchJob(string name, string command, string[] names, Func<string, OperationContext, object?> action, bool passThru,
        string overallActivity, Type commandType, int throttle = 1)
        : base(command, name)
    {
        this.throttle = throttle;
        this.names = names;
        this.action = action;
        this.passThru = passThru;
        this.overallActivity = overallActivity;
        this.commandType = commandType;
        PSJobTypeName = "MyVmJob";
    }

    public override string StatusMessage => JobStateInfo.State.ToString();
    public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Verbose.Count > 0 || Progress.Count > 0;
    public override string Location => Environment.MachineName;

    public void StartInBackground()
    {
        SetJobState(JobState.Running);
        running = Task.Run(Run);
    }

    private void Run()
    {
        var failed = false;
        try
        {
            RunEach(ref failed);
        }
        catch (Exception e)
        {
            // Never leave a job Running forever: whatever escaped ends it as Failed.
            failed = true;
            Error.Add(new ErrorRecord(e, $"VmJobFailed,{commandType.FullName}", ErrorCategory.NotSpecified, null));
        }
        // Failed when any VM failed (the others were still handled; the errors are in the Error stream).
        SetJobState(cancellation.IsCancellationRequested ? JobState.Stopped : failed ? JobState.Failed : JobState.Completed);
    }

    private void RunEach(ref bool failed)
    {
        // The same as in the foreground: up to the throttle at once, one overall bar, each VM's
        // result or error in the order the VMs came.
        var anyFailed = false;
        ConcurrentVmBatch.Run(names, throttle, overallActivity, cancellation.Token, action, new ConcurrentVmBatch.Sinks(
            Output: result => { if (passThru) Output.Add(PSObject.AsPSObject(result)); },
            Error: (e, name) => { anyFailed = true; Error.Add(ErrorRecords.From(e, name, commandType)); },
            Fault: (e, name) => { anyFailed = true; Error.Add(new ErrorRecord(e, $"VmJobFailed,{commandType.FullName}", ErrorCategory.NotSpecified, name)); },
            Verbose: message => Verbose.Add(new VerboseRecord(message)),
            Warning: message => Warning.Add(new WarningRecord(message)),
            Progress: record => Progress.Add(record)));
        failed |= anyFailed;
    }

    /// <summary>
    /// Stop-Job is synchronous: it returns once Core has rolled back (or finished) the action under
    /// way, so whoever stopped the job finds the VM consistent. The wait is bounded by Core's own
    /// bounded steps; the limit here only guards against a bug leaving Stop-Job hanging forever.
    /// </summary>
    public override void StopJob()
    {
        cancellation.Cancel();
        running?.Wait(TimeSpan.FromMinutes(2));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) cancellation.Dispose();
        base.Dispose(disposing);
    }
}
