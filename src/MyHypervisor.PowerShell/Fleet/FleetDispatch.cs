using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Remoting;
using MyHypervisor.Core.Errors;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Runs one cmdlet invocation's records on other hosts: each record goes, with the parameters it
/// was bound with (minus -VmHost and -ThrottleLimit), to the same cmdlet in each target host's
/// session. Hosts work in parallel, at most ThrottleLimit at once; one host's records run in
/// order (a session runs one command at a time). Output, errors, warnings and narration come
/// back to the pipeline thread, which alone may write them; objects are tagged with their host.
/// This host ('localhost') runs the same cmdlet in a nested pipeline, so its objects are tagged too.
/// </summary>
public sealed class FleetDispatch : IDisposable
{
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "VmHost", "ThrottleLimit", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable",
        "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "Debug",
    };

    private readonly PSCmdlet cmdlet;
    private readonly string command;
    private readonly string localVersion;
    private readonly SemaphoreSlim throttle;
    private readonly CancellationTokenSource cancellation = new();
    private readonly BlockingCollection<Action> toPipeline = new();
    private readonly Dictionary<VmHostConnection, Task> chains = new();
    /// <summary>Hosts that could not be (re)connected in this command: reported once, not retried.</summary>
    private readonly HashSet<VmHostConnection> failed = new();
    private readonly HashSet<VmHostConnection> checkedOpen = new();
    private int pending;

    public FleetDispatch(PSCmdlet cmdlet, int throttleLimit)
    {
        this.cmdlet = cmdlet;
        command = $"{VmHostSessions.ModuleName}\\{cmdlet.MyInvocation.MyCommand.Name}";
        localVersion = LocalVersion(cmdlet);
        throttle = new SemaphoreSlim(throttleLimit, throttleLimit);
    }

    public VmHostRegistry Registry => VmHostRegistry.Current;

    public static string LocalVersion(PSCmdlet cmdlet) =>
        cmdlet.MyInvocation.MyCommand.Module?.Version.ToString() ?? typeof(FleetDispatch).Assembly.GetName().Version!.ToString();

    /// <summary>The invocation's parameters for this record, as the target hosts' cmdlet gets them.</summary>
    public Dictionary<string, object?> ForwardedParameters() =>
        cmdlet.MyInvocation.BoundParameters.Where(p => !NotForwarded.Contains(p.Key)).ToDictionary(p => p.Key, p => (object?)p.Value);

    /// <summary>
    /// The hosts named (pipeline thread): each unknown literal name and each host that cannot be
    /// (re)connected is one VmHostUnreachable error; the usable hosts are returned.
    /// </summary>
    public IReadOnlyList<VmHostConnection> Targets(string[] names)
    {
        var hosts = Registry.Resolve(names, out var unknown);
        foreach (var name in unknown)
            WriteError(new MyHvException(MyHvErrorKind.VmHostUnreachable,
                $"VM host '{name}' is not connected. Connect it with Connect-MyVmHost -HostName <address> -Name {name}; Get-MyVmHost lists the connected hosts."), name);
        return hosts.Where(EnsureOpen).ToList();
    }

    /// <summary>A dropped session is opened again, once per command; a failure is reported once.</summary>
    private bool EnsureOpen(VmHostConnection host)
    {
        if (host.IsLocal) return true;
        if (failed.Contains(host)) return false;
        if (host.IsOpen || checkedOpen.Contains(host)) return true;
        checkedOpen.Add(host);
        var why = host.Session is null ? "not open" : VmHostSessions.BrokenReason(host);
        cmdlet.WriteVerbose($"VM host '{host.Name}': the session is {why}; reconnecting to {host.Address}");
        try
        {
            VmHostSessions.Open(host, localVersion);
            return true;
        }
        catch (MyHvException e)
        {
            failed.Add(host);
            WriteError(e, host.Name);
            return false;
        }
    }

    /// <summary>Sends this record to the hosts (localhost runs it now, in a nested pipeline; the others in the background).</summary>
    public void Send(IEnumerable<VmHostConnection> hosts, Dictionary<string, object?> parameters)
    {
        foreach (var host in hosts)
        {
            if (host.IsLocal) { RunLocally(parameters); continue; }
            Interlocked.Increment(ref pending);
            chains.TryGetValue(host, out var previous);
            chains[host] = (previous ?? Task.CompletedTask).ContinueWith(_ => RunRemotely(host, parameters), TaskScheduler.Default);
        }
        Pump();
    }

    private void RunLocally(Dictionary<string, object?> parameters)
    {
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddCommand(command).AddParameters(parameters);
        try
        {
            foreach (var item in ps.Invoke()) cmdlet.WriteObject(FleetObjects.Tag(item, Core.Vms.VmInfo.LocalHost));
        }
        catch (RuntimeException e)
        {
            cmdlet.WriteError(new ErrorRecord(e.ErrorRecord, e));
        }
        foreach (var message in ps.Streams.Verbose) cmdlet.WriteVerbose(message.Message);
        foreach (var warning in ps.Streams.Warning) cmdlet.WriteWarning(warning.Message);
        foreach (var error in ps.Streams.Error) cmdlet.WriteError(error);
    }

    private void RunRemotely(VmHostConnection host, Dictionary<string, object?> parameters)
    {
        try
        {
            throttle.Wait(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            Done();
            return;
        }
        try
        {
            host.Turn.Wait(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throttle.Release();
            Done();
            return;
        }
        try
        {
            if (!host.IsOpen)
            {
                Post(() => WriteError(VmHostSessions.Unreachable(host, VmHostSessions.BrokenReason(host) + ". The next command reconnects."), host.Name));
                return;
            }
            using var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = host.Session!.Runspace;
            ps.AddCommand(command).AddParameters(parameters);
            var output = new PSDataCollection<PSObject>();
            output.DataAdded += (_, e) => { var item = output[e.Index]; Post(() => cmdlet.WriteObject(FleetObjects.Tag(item, host.Name))); };
            ps.Streams.Error.DataAdded += (_, e) => { var record = ps.Streams.Error[e.Index]; Post(() => cmdlet.WriteError(FromHost(record, host))); };
            // Warnings and narration are not relayed: the session was opened with this PowerShell's
            // host, and the host's end writes them to it already (relaying would show each twice).
            using var stop = cancellation.Token.Register(() => ps.BeginStop(null, null));
            try
            {
                ps.Invoke<PSObject, PSObject>(null, output, null);
            }
            catch (Exception e) when (!host.IsOpen || e is PSRemotingTransportException)
            {
                var reason = host.IsOpen ? VmHostSessions.OneLine(e.Message) : VmHostSessions.BrokenReason(host);
                Post(() => WriteError(VmHostSessions.Unreachable(host, $"the session dropped during {cmdlet.MyInvocation.MyCommand.Name}: {reason}. The next command reconnects."), host.Name));
            }
            catch (RuntimeException e) when (e.ErrorRecord is not null)
            {
                // The cmdlet there stopped with a terminating error: it is that host's error, not this command's.
                var record = e.ErrorRecord;
                Post(() => cmdlet.WriteError(FromHost(record, host)));
            }
        }
        catch (Exception e) when (e is PipelineStoppedException or OperationCanceledException)
        {
        }
        finally
        {
            host.Turn.Release();
            throttle.Release();
            Done();
        }
    }

    /// <summary>A host's error keeps its id (VmNotFound...) and says which host it is from.</summary>
    private static ErrorRecord FromHost(ErrorRecord remote, VmHostConnection host)
    {
        var record = new ErrorRecord(remote, remote.Exception);
        var message = remote.ErrorDetails?.Message ?? remote.Exception?.Message ?? remote.ToString();
        record.ErrorDetails = new ErrorDetails($"[{host.Name}] {message}") { RecommendedAction = remote.ErrorDetails?.RecommendedAction };
        return record;
    }

    private void WriteError(MyHvException error, string target) => cmdlet.WriteError(ErrorRecords.From(error, target));

    private void Post(Action write) => toPipeline.Add(write);

    private void Done()
    {
        if (Interlocked.Decrement(ref pending) == 0) Post(() => { });
    }

    /// <summary>Writes what has arrived so far (pipeline thread), without waiting.</summary>
    public void Pump()
    {
        while (toPipeline.TryTake(out var write)) write();
    }

    /// <summary>Waits for every host's records (pipeline thread), writing their results as they arrive.</summary>
    public void Complete()
    {
        while (Volatile.Read(ref pending) > 0 || toPipeline.Count > 0)
        {
            if (toPipeline.TryTake(out var write, 100)) write();
        }
    }

    /// <summary>Ctrl+C: the hosts' commands are stopped (each host's cmdlet rolls back as it would locally).</summary>
    public void Stop()
    {
        try { cancellation.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose() => toPipeline.Dispose();
}
