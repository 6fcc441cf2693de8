using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// -AsJob with -VmHost: a standard job of this session (Get-Job, Wait-Job, Receive-Job, Stop-Job)
/// that runs the same command, without -AsJob, in a runspace of its own on a background thread,
/// as Invoke-Command -AsJob does for its computers. That runspace uses this session's connected
/// hosts (the same sessions), so the fan-out, the throttle, the VmHost tags and the errors are
/// exactly those of the command run in the foreground; they land in the job's streams.
/// </summary>
public sealed class FleetJob : Job
{
    private readonly string commandName;
    private readonly string modulePath;
    private readonly Dictionary<string, object?> parameters;
    private readonly PSDataCollection<PSObject> input = new();
    private readonly VmHostRegistry registry;
    private System.Management.Automation.PowerShell? pipeline;
    private Runspace? runspace;
    private volatile bool stopping;
    private readonly ManualResetEventSlim finished = new();
    private readonly string location;

    /// <param name="commandName">Module-qualified cmdlet name.</param>
    /// <param name="modulePath">The module to import in the job's runspace (this one's manifest).</param>
    /// <param name="parameters">Parameters common to every record (not -AsJob).</param>
    /// <param name="records">One object per pipeline record, with the properties that record bound by name (Name, VmHost).</param>
    public FleetJob(string commandText, string commandName, string modulePath, Dictionary<string, object?> parameters,
        IEnumerable<PSObject> records, VmHostRegistry registry, string location)
        : base(commandText, commandText)
    {
        this.location = location;
        this.commandName = commandName;
        this.modulePath = modulePath;
        this.parameters = parameters;
        this.registry = registry;
        foreach (var record in records) input.Add(record);
        input.Complete();
        PSJobTypeName = "MyVmHostJob";
    }

    public override string StatusMessage => JobStateInfo.State.ToString();
    public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Verbose.Count > 0 || Warning.Count > 0 || Progress.Count > 0;
    /// <summary>The hosts as given (-VmHost values, or those of the piped objects).</summary>
    public override string Location => location;

    public void StartInBackground()
    {
        SetJobState(JobState.Running);
        Task.Run(Run);
    }

    private void Run()
    {
        try
        {
            var state = InitialSessionState.CreateDefault2();
            state.ImportPSModule(new[] { modulePath });
            // A module that does not load ends the job with that reason, not a later "command not found".
            state.ThrowOnRunspaceOpenError = true;
            runspace = RunspaceFactory.CreateRunspace(state);
            runspace.Open();
            registry.ShareWith(runspace);
            pipeline = System.Management.Automation.PowerShell.Create();
            pipeline.Runspace = runspace;
            pipeline.Streams.Error = Error;
            pipeline.Streams.Verbose = Verbose;
            pipeline.Streams.Warning = Warning;
            pipeline.Streams.Progress = Progress;
            pipeline.Streams.Information = Information;
            pipeline.AddCommand(commandName).AddParameters(parameters);
            if (stopping) { SetJobState(JobState.Stopped); return; }
            pipeline.Invoke(input, Output);
            SetJobState(stopping ? JobState.Stopped : Error.Count > 0 ? JobState.Failed : JobState.Completed);
        }
        catch (PipelineStoppedException)
        {
            SetJobState(JobState.Stopped);
        }
        catch (Exception e)
        {
            // Never leave a job Running forever: a terminating error ends it as Failed, with the error.
            Error.Add(e is RuntimeException { ErrorRecord: { } record } ? record
                : new ErrorRecord(e, "VmJobFailed,MyHypervisor.PowerShell.Fleet.FleetJob", ErrorCategory.NotSpecified, null));
            SetJobState(stopping ? JobState.Stopped : JobState.Failed);
        }
        finally
        {
            pipeline?.Dispose();
            runspace?.Dispose();
            finished.Set();
        }
    }

    /// <summary>Stop-Job returns once the command has stopped (each host's command stopped as Ctrl+C would).</summary>
    public override void StopJob()
    {
        stopping = true;
        try { pipeline?.Stop(); }
        catch (ObjectDisposedException) { }
        finished.Wait(TimeSpan.FromMinutes(2));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { input.Dispose(); finished.Dispose(); }
        base.Dispose(disposing);
    }
}
