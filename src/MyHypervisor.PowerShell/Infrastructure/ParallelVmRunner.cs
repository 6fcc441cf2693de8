using System.Collections.Concurrent;
using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Runs one action per VM on worker threads, at most <c>throttle</c> at a time, while the
/// pipeline thread writes what they produce (objects, errors, verbose lines) as it arrives:
/// PowerShell's streams may only be written from the pipeline thread. Each VM's failure is its
/// own non-terminating error; Ctrl+C cancels every worker.
/// </summary>
public static class ParallelVmRunner
{
    public static void Run(MyHypervisorCmdlet cmdlet, IReadOnlyList<string> names, int throttle, CancellationToken cancel,
        Func<string, OperationContext, object?> action, Action<object> write, Action<MyHvException, string> writeError,
        Action<string> writeVerbose)
    {
        // Not disposed: after Ctrl+C the pipeline stops consuming while cancelled workers finish.
        var queue = new BlockingCollection<Action>();
        var gate = new SemaphoreSlim(Math.Max(1, throttle));
        void Post(Action item)
        {
            try { queue.Add(item); }
            catch (InvalidOperationException) { }   // the pipeline stopped: nobody writes any more
        }
        var context = new OperationContext(m => Post(() => writeVerbose(m)), null, cancel, m => Post(() => cmdlet.WriteWarning(m)));
        var tasks = names.Select(name => Task.Run(() =>
        {
            try
            {
                gate.Wait(cancel);
                try
                {
                    var result = action(name, context);
                    if (result is not null) Post(() => write(result));
                }
                finally { gate.Release(); }
            }
            catch (MyHvException e) { Post(() => writeError(e, name)); }
            catch (OperationCanceledException) { }
        })).ToArray();
        _ = Task.WhenAll(tasks).ContinueWith(_ => queue.CompleteAdding(), TaskScheduler.Default);
        try
        {
            foreach (var item in queue.GetConsumingEnumerable()) item();
        }
        finally
        {
            // Stopped (Ctrl+C): the workers were cancelled, and each kills its guest command; let them.
            queue.CompleteAdding();
            Task.WaitAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)).ToArray(), TimeSpan.FromSeconds(30));
        }
        // A bug in a worker (not a MyHvException) surfaces here instead of being lost.
        var fault = tasks.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException;
        if (fault is not null) throw fault;
    }
}
