using System.Collections.Concurrent;
using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Acts on several VMs at once, at most <c>throttle</c> at a time, for Start-MyVm -Wait,
/// Stop-MyVm and Restart-MyVm, whose time goes into waiting for guests. Workers only act; the
/// calling thread (the pipeline thread, or a job's thread) does all the writing: narration,
/// warnings and progress as they happen, one overall bar, and each VM's result or error in the
/// order the VMs came, each as soon as it and every VM before it are done. A stop (Ctrl+C) cancels
/// every worker; VMs not yet begun are not touched, and the call returns only once each begun VM
/// is consistent again (Core rolls a cancelled start back before it returns).
/// </summary>
public static class ConcurrentVmBatch
{
    /// <summary>Where the results go; every member is called on the thread that called <see cref="Run"/>.</summary>
    public sealed record Sinks(
        Action<object> Output,
        Action<MyHvException, string> Error,
        Action<Exception, string> Fault,
        Action<string> Verbose,
        Action<string> Warning,
        Action<ProgressRecord> Progress);

    private sealed class Slot
    {
        public bool Done;
        public object? Result;
        public Exception? Failure;
    }

    public static void Run(IReadOnlyList<string> names, int throttle, string overallActivity, CancellationToken cancel,
        Func<string, OperationContext, object?> action, Sinks sinks)
    {
        // One VM, or one at a time: everything runs on the calling thread, as before (no thread hop,
        // which a loaded host makes costly, in the start that the start-overhead figure times).
        var inline = names.Count == 1 || throttle <= 1;
        // Not disposed: a worker may still post after the pump stopped reading (it only drops the item).
        var queue = new BlockingCollection<Action>();
        void Post(Action item)
        {
            if (inline) { item(); return; }
            try { queue.Add(item); }
            catch (InvalidOperationException) { }
        }
        var progress = new ProgressReporter(sinks.Progress, overallActivity, names.Count);
        // Narration of VMs worked on at once interleaves: a line that does not name its VM gets a prefix.
        var prefix = names.Count > 1 && throttle > 1;
        OperationContext ContextFor(string name) => new(
            message => Post(() => sinks.Verbose(prefix && !message.StartsWith("VM '", StringComparison.Ordinal) ? $"[{name}] {message}" : message)),
            update => Post(() => progress.Report(update)),
            cancel,
            message => Post(() => sinks.Warning(message)));
        var slots = names.Select(_ => new Slot()).ToArray();
        // The overall bar names each VM as it begins, counting VMs begun ("VM 'b' (2 of 3)"), while
        // its percentage counts VMs done; ProgressReporter completes each VM's bar and the overall one.
        int begun = 0, finished = 0;
        void Begin(string name)
        {
            begun++;
            if (names.Count > 1)
                sinks.Progress(new ProgressRecord(ProgressReporter.OverallId, overallActivity, $"VM '{name}' ({begun} of {names.Count})")
                {
                    PercentComplete = 100 * finished / names.Count,
                });
        }
        var next = 0;
        void WriteFinishedInOrder()
        {
            for (; next < slots.Length && slots[next].Done; next++)
            {
                var slot = slots[next];
                switch (slot.Failure)
                {
                    case null when slot.Result is not null: sinks.Output(slot.Result); break;
                    case MyHvException e: sinks.Error(e, names[next]); break;
                    case OperationCanceledException when cancel.IsCancellationRequested: break;
                    case { } other: sinks.Fault(other, names[next]); break;
                }
            }
        }

        // A VM not begun when the command is stopped is never touched.
        void Skip(int index) => Post(() =>
        {
            slots[index].Done = true;
            slots[index].Failure = new OperationCanceledException();
            WriteFinishedInOrder();
        });
        void Work(string name, int index)
        {
            object? result = null;
            Exception? failure = null;
            try { result = action(name, ContextFor(name)); }
            catch (Exception e) { failure = e; }
            Post(() =>
            {
                slots[index].Result = result;
                slots[index].Failure = failure;
                slots[index].Done = true;
                finished++;
                progress.VmDone(name);
                WriteFinishedInOrder();
            });
        }
        if (inline)
        {
            for (var i = 0; i < names.Count; i++)
            {
                if (cancel.IsCancellationRequested) { Skip(i); continue; }
                Begin(names[i]);
                Work(names[i], i);
            }
            return;
        }
        // One dispatcher takes the VMs in the order they came, so they begin (and the overall bar
        // names them) in that order, and at most `throttle` run at once.
        using var gate = new SemaphoreSlim(Math.Max(1, throttle));
        var dispatcher = Task.Run(async () =>
        {
            var running = new List<Task>();
            for (var i = 0; i < names.Count; i++)
            {
                var index = i;
                try { await gate.WaitAsync(cancel).ConfigureAwait(false); }
                catch (OperationCanceledException)
                {
                    for (var j = index; j < names.Count; j++) Skip(j);
                    break;
                }
                Post(() => Begin(names[index]));
                running.Add(Task.Run(() =>
                {
                    try { Work(names[index], index); }
                    finally { gate.Release(); }
                }));
            }
            await Task.WhenAll(running).ConfigureAwait(false);
        });
        _ = dispatcher.ContinueWith(_ => queue.CompleteAdding(), TaskScheduler.Default);
        // Every posted item runs, also after a stop: a stopped pipeline's writers drop what they are
        // given (MyHypervisorCmdlet.Guarded), and this loop ends only when every worker has.
        foreach (var item in queue.GetConsumingEnumerable()) item();
    }
}
