using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Fleet;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Cross-cutting cmdlet plumbing: the Core manager for the current MYHV_HOME,
/// narration/progress/cancellation handed to Core, Core errors turned into ErrorRecords with the
/// contract's ids, and -VmHost: the same cmdlet run on other hosts (Connect-MyVmHost).
/// </summary>
/// <remarks>
/// -VmHost is handled here once, for every cmdlet, so the cmdlets themselves stay local: they
/// override BeginLocalProcessing, ProcessLocalRecord and EndLocalProcessing, which run only for
/// work on this machine. Given on the command line (other than just 'localhost'), -VmHost makes
/// the invocation a dispatcher: each record goes to the same cmdlet on every host named (this one
/// in a nested pipeline), and nothing runs here directly. Bound from a piped object's VmHost
/// property, it sends that record to the host the object came from.
/// </remarks>
public abstract class MyHypervisorCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource cancellation = new();
    private VmManager? manager;
    private FleetDispatch? fleet;
    /// <summary>The hosts -VmHost named on the command line; null when the invocation is local.</summary>
    private IReadOnlyList<VmHostConnection>? fleetTargets;
    /// <summary>-AsJob with -VmHost: the records a background job runs; null otherwise.</summary>
    private FleetJobRecords? fleetJob;
    /// <summary>-VmHost named other hosts on the command line: nothing runs here directly.</summary>
    private bool dispatchOnly;

    /// <summary>True when the cmdlet was asked for a background job (-AsJob): with -VmHost the job runs the whole fan-out.</summary>
    private protected virtual bool WantsJob => false;

    /// <summary>
    /// -AsJob with -VmHost: the confirmation (-WhatIf, -Confirm) for one record, asked here in the
    /// foreground as a local -AsJob does; the job then runs without asking (nobody could answer).
    /// </summary>
    private protected virtual bool ConfirmForJob() => true;

    /// <summary>
    /// The hosts to run on: connected host names (Connect-MyVmHost), wildcards, '*' for all;
    /// 'localhost' is this machine. A piped object's VmHost binds here, so it acts where it came from.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VmHostCompleter))]
    public string[]? VmHost { get; set; }

    /// <summary>How many hosts -VmHost works on at once (and, for cmdlets that work on VMs in parallel, how many VMs).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; }

    /// <summary>How many hosts -VmHost works on at once when -ThrottleLimit is not given.</summary>
    private const int HostFanOut = 32;

    /// <summary>-ThrottleLimit's value when not given: the host fan-out, unless the cmdlet's own work on VMs wants another.</summary>
    private protected virtual int InitialThrottleLimit => HostFanOut;

    // A virtual call in a constructor is safe here: every override returns a constant.
    protected MyHypervisorCmdlet() => ThrottleLimit = InitialThrottleLimit;

    /// <summary>-ThrottleLimit when given, else the cmdlet's own default for its parallel work on VMs.</summary>
    protected int ThrottleLimitOr(int fallback) => MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? ThrottleLimit : fallback;

    /// <summary>Built per invocation: MYHV_HOME may change between commands in one session.</summary>
    protected VmManager Manager => manager ??= VmManager.FromEnvironment();

    protected CancellationToken Cancellation => cancellation.Token;

    /// <summary>
    /// Core's callbacks, bound to this cmdlet's pipeline thread. Each writer is guarded: once the
    /// pipeline is stopping (Ctrl+C, PowerShell.Stop(), a stopped job), WriteVerbose, WriteProgress
    /// and WriteWarning throw PipelineStoppedException, and Core's rollback narrates and reports
    /// progress as it goes; a throw there would abandon the rollback half-way. A guarded writer
    /// drops the record instead and makes sure the cancellation token is set, so Core notices the
    /// stop at its next checkpoint and rolls back before the cmdlet returns.
    /// </summary>
    protected OperationContext CreateContext(Action<ProgressUpdate>? progress = null) =>
        new(Guarded<string>(WriteVerbose), progress is null ? null : Guarded(progress), cancellation.Token, Guarded<string>(WriteWarning));

    protected Action<T> Guarded<T>(Action<T> write) => value =>
    {
        if (Stopping) { RequestCancel(); return; }
        try { write(value); }
        catch (PipelineStoppedException) { RequestCancel(); }
    };

    /// <summary>
    /// False for commands that only report (Test-MyVmHost): they show an unsafe MYHV_HOME
    /// instead of refusing to run.
    /// </summary>
    protected virtual bool RequiresSafeHome => true;

    protected sealed override void BeginProcessing()
    {
        if (!VmHostRegistry.MeansLocalOnly(VmHost))
        {
            dispatchOnly = true;
            // The job resolves and reaches the hosts itself; its errors are the job's.
            if (WantsJob) { fleetJob = new FleetJobRecords(); return; }
            fleet = new FleetDispatch(this, ThrottleLimitOr(HostFanOut));
            fleetTargets = fleet.Targets(VmHost!);
            return;
        }
        BeginLocalProcessing();
    }

    protected sealed override void ProcessRecord()
    {
        if (WantsJob && !VmHostRegistry.MeansLocalOnly(VmHost))
        {
            if (ConfirmForJob()) (fleetJob ??= new FleetJobRecords()).Add(MyInvocation.BoundParameters);
            return;
        }
        if (fleetTargets is not null)
        {
            fleet!.Send(ChooseHosts(fleetTargets, fleet), fleet.ForwardedParameters());
            return;
        }
        if (!VmHostRegistry.MeansLocalOnly(VmHost))
        {
            // A piped object from another host: this record goes there, never to a local VM of its name.
            fleet ??= new FleetDispatch(this, ThrottleLimitOr(HostFanOut));
            fleet.Send(fleet.Targets(VmHost!), fleet.ForwardedParameters());
            return;
        }
        ProcessLocalRecord();
        fleet?.Pump();
    }

    protected sealed override void EndProcessing()
    {
        try
        {
            if (!dispatchOnly) EndLocalProcessing();
            if (fleetJob is { Any: true }) WriteObject(fleetJob.Start(this));
        }
        finally
        {
            fleet?.Complete();
        }
    }

    /// <summary>
    /// Which of the hosts named get this record: all of them; New-MyVm places the VM on one.
    /// Runs on the pipeline thread.
    /// </summary>
    private protected virtual IReadOnlyList<VmHostConnection> ChooseHosts(IReadOnlyList<VmHostConnection> hosts, FleetDispatch dispatch) => hosts;

    /// <summary>MYHV_HOME is checked as ssh checks ~/.ssh before any command trusts what is in it.</summary>
    protected virtual void BeginLocalProcessing()
    {
        if (!RequiresSafeHome) return;
        try { Core.Configuration.StateHomeGuard.Check(Manager.Paths.Home); }
        catch (MyHvException e) { ThrowVmError(e, Manager.Paths.Home); }
    }

    /// <summary>One record's work on this machine (PowerShell's ProcessRecord when -VmHost is not another host).</summary>
    protected virtual void ProcessLocalRecord() { }

    /// <summary>The end of the work on this machine (PowerShell's EndProcessing when the invocation is local).</summary>
    protected virtual void EndLocalProcessing() { }

    /// <summary>Cancels the Core work under way, as a stop would (its rollbacks still run).</summary>
    private protected void CancelOperations() => RequestCancel();

    private void RequestCancel()
    {
        // StopProcessing runs on another thread and may race with this: both only cancel.
        try { cancellation.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    // The source is never disposed: StopProcessing may arrive from another thread at any time,
    // even after EndProcessing, and a source without timers holds nothing that needs disposing.
    protected sealed override void StopProcessing()
    {
        RequestCancel();
        fleet?.Stop();
    }

    /// <summary>A problem with one VM: reported, and the pipeline goes on with the next.</summary>
    protected void WriteVmError(MyHvException error, object? target = null) =>
        WriteError(ErrorRecords.From(error, target));

    /// <summary>A problem with the invocation itself: stops the command.</summary>
    protected void ThrowVmError(MyHvException error, object? target = null) =>
        ThrowTerminatingError(ErrorRecords.From(error, target));

    /// <summary>
    /// Expands -Name values: wildcards match existing VMs (no match is no error, as with
    /// Get-ChildItem); a literal name that does not exist is a VmNotFound error for that name.
    /// </summary>
    protected IEnumerable<string> ResolveNames(IEnumerable<string> names)
    {
        IReadOnlyList<string>? existing = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (WildcardPattern.ContainsWildcardCharacters(name))
            {
                existing ??= Manager.ListNames();
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                foreach (var match in existing.Where(pattern.IsMatch))
                    if (seen.Add(match)) yield return match;
                continue;
            }
            var problem = Core.Vms.VmNameRules.Problem(name);
            if (problem is not null)
            {
                WriteVmError(new MyHvException(MyHvErrorKind.InvalidVmName, $"'{name}' is not a valid VM name: {problem}", name), name);
                continue;
            }
            if (!Manager.Exists(name))
            {
                WriteVmError(new MyHvException(MyHvErrorKind.VmNotFound, $"No VM named '{name}' exists.", name), name);
                continue;
            }
            if (seen.Add(name)) yield return name;
        }
    }

    /// <summary>Runs one VM's action; its Core error becomes a non-terminating error for that VM.</summary>
    protected bool TryForVm(string name, Action action)
    {
        try
        {
            action();
            return true;
        }
        catch (MyHvException e)
        {
            WriteVmError(e, name);
            return false;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The pipeline was stopped while Core waited (for the lock, for the guest): Core has
            // already put the VM back in a consistent state; there is nobody left to tell.
            return false;
        }
    }
}
