using System.Management.Automation;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>How many VMs Start-MyVm, Stop-MyVm and Restart-MyVm act on at once (-ThrottleLimit, from the base cmdlet, when given).</summary>
public abstract partial class VmBatchCmdlet
{
    /// <summary>
    /// The default, 2, from measurements on this 2-core host: under TCG a booting guest keeps a core
    /// busy (its QEMU's CPU time grows as fast as the wall clock), so more boots at once than cores
    /// only share the same CPUs while holding more guest memory at once (6 VMs took as long 6 at
    /// once as one after the other while other work held the cores), and two at a time already
    /// overlaps every wait that is not CPU work (launch, QMP, power-off). A fixed number, not the
    /// host's core count, so a script behaves the same on every host; -ThrottleLimit raises it
    /// (stops and KVM guests wait rather than compute, and gain from more). bench/results.md has the figures.
    /// </summary>
    public const int DefaultThrottleLimit = 2;

    private protected override int InitialThrottleLimit => DefaultThrottleLimit;

    /// <summary>Acts on the confirmed VMs, up to -ThrottleLimit at once; results and errors in the VMs' order.</summary>
    private void ActConcurrently(IReadOnlyList<string> names, string overallActivity)
    {
        // -ErrorAction Stop asks for the first failure to end the command, which only means something
        // one VM after the other: then the VMs after it are never touched. Given explicitly,
        // -ThrottleLimit still wins, and a stop then cancels the VMs under way (each rolled back).
        var stopOnError = ErrorActionIsStop();
        var throttle = stopOnError && !MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? 1 : ThrottleLimit;
        // A bug (not a Core error) surfaces once every VM is consistent again, not half-way; so does
        // the error that -ErrorAction Stop turns into the end of the command.
        Exception? fault = null;
        Exception? stop = null;
        ConcurrentVmBatch.Run(names, throttle, overallActivity, Cancellation, Act, new ConcurrentVmBatch.Sinks(
            Output: Guarded<object>(result => { if (PassThru && stop is null) WriteObject(result); }),
            Error: (error, name) =>
            {
                if (stop is not null) return;
                try { Guarded<ErrorRecord>(WriteError)(ErrorRecords.From(error, name)); }
                catch (RuntimeException e) { stop = e; CancelOperations(); }
            },
            Fault: (e, _) => fault ??= e,
            Verbose: Guarded<string>(WriteVerbose),
            Warning: Guarded<string>(WriteWarning),
            Progress: Guarded<ProgressRecord>(WriteProgress)));
        if (stop is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(stop).Throw();
        if (fault is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(fault).Throw();
    }

    private bool ErrorActionIsStop()
    {
        var action = MyInvocation.BoundParameters.TryGetValue("ErrorAction", out var bound) ? bound : GetVariableValue("ErrorActionPreference");
        return string.Equals(action?.ToString(), nameof(ActionPreference.Stop), StringComparison.OrdinalIgnoreCase);
    }
}
