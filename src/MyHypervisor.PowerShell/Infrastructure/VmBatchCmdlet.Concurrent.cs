using System.Management.Automation;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>-ThrottleLimit: how many VMs Start-MyVm, Stop-MyVm and Restart-MyVm act on at once.</summary>
public abstract partial class VmBatchCmdlet
{
    /// <summary>
    /// The default: the number of processors, at least 2. Under TCG a booting guest keeps a core
    /// busy (its QEMU's CPU time grows as fast as the wall clock), so more boots at once than cores
    /// only share the same CPUs while holding more guest memory at once; measured here (2 cores),
    /// 6 VMs took as long at 6 at once as one after the other when other work held the cores.
    /// Stops and KVM guests wait rather than compute and gain more; -ThrottleLimit raises it.
    /// bench/results.md has the figures.
    /// </summary>
    public static int DefaultThrottleLimit => Math.Max(2, Environment.ProcessorCount);

    /// <summary>How many VMs are acted on at once (1: one after the other).</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = DefaultThrottleLimit;

    /// <summary>Acts on the confirmed VMs, up to -ThrottleLimit at once; results and errors in the VMs' order.</summary>
    private void ActConcurrently(IReadOnlyList<string> names, string overallActivity)
    {
        // A bug (not a Core error) surfaces once every VM is consistent again, not half-way.
        Exception? fault = null;
        ConcurrentVmBatch.Run(names, ThrottleLimit, overallActivity, Cancellation, Act, new ConcurrentVmBatch.Sinks(
            Output: Guarded<object>(result => { if (PassThru) WriteObject(result); }),
            Error: (error, name) => Guarded<ErrorRecord>(WriteError)(ErrorRecords.From(error, name)),
            Fault: (e, _) => fault ??= e,
            Verbose: Guarded<string>(WriteVerbose),
            Warning: Guarded<string>(WriteWarning),
            Progress: Guarded<ProgressRecord>(WriteProgress)));
        if (fault is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(fault).Throw();
    }
}
