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

    /// <summary>Acts on the confirmed VMs, up to -ThrottleLimit at once; results and errors in the VMs' order.</summary>
    private void ActConcurrently(IReadOnlyList<string> names, string overallActivity)
    {
        // A bug (not a Core error) surfaces once every VM is consistent again, not half-way.
        Exception? fault = null;
        ConcurrentVmBatch.Run(names, ThrottleLimitOr(DefaultThrottleLimit), overallActivity, Cancellation, Act, new ConcurrentVmBatch.Sinks(
            Output: Guarded<object>(result => { if (PassThru) WriteObject(result); }),
            Error: (error, name) => Guarded<ErrorRecord>(WriteError)(ErrorRecords.From(error, name)),
            Fault: (e, _) => fault ??= e,
            Verbose: Guarded<string>(WriteVerbose),
            Warning: Guarded<string>(WriteWarning),
            Progress: Guarded<ProgressRecord>(WriteProgress)));
        if (fault is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(fault).Throw();
    }
}
