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
    private readonly CancellationTokenSource cancellation = new();
    private Task? running;

    public VmBatchJob(string name, string command, string[] names, Func<string, OperationContext, object?> action, bool passThru,
        string overallActivity, Type commandType)
        : base(command, name)
    {
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
        // The same bars as in the foreground: one per VM, under an overall bar when there are several.
        var progress = new ProgressReporter(record => Progress.Add(record), overallActivity, names.Length);
        var context = new OperationContext(
            message => Verbose.Add(new VerboseRecord(message)),
            progress.Report,
            cancellation.Token,
            message => Warning.Add(new WarningRecord(message)));
        foreach (var name in names)
        {
            if (cancellation.IsCancellationRequested) break;
            progress.VmBegin(name);
            try
            {
                var result = action(name, context);
                if (passThru && result is not null) Output.Add(PSObject.AsPSObject(result));
            }
            catch (MyHvException e)
            {
                failed = true;
                Error.Add(ErrorRecords.From(e, name, commandType));
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                // Stopped while Core waited: the VM is consistent already, and the job ends Stopped.
            }
            catch (Exception e)
            {
                failed = true;
                Error.Add(new ErrorRecord(e, $"VmJobFailed,{commandType.FullName}", ErrorCategory.NotSpecified, name));
            }
            progress.VmDone(name);
        }
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
