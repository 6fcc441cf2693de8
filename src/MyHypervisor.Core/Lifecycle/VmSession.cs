using MyHypervisor.Core.Storage;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// One command's hold on one VM: the lock, the definition, and the state as reconciled with
/// reality. Every command that reads or changes a VM works through a session.
/// </summary>
public sealed class VmSession : IDisposable
{
    private readonly VmLock vmLock;
    private readonly VmStore store;

    internal VmSession(VmLock vmLock, VmStore store, VmDefinition definition, VmState state)
    {
        this.vmLock = vmLock;
        this.store = store;
        Definition = definition;
        State = state;
    }

    public VmDefinition Definition { get; private set; }
    public VmState State { get; private set; }
    public string Name => Definition.Name;

    /// <summary>Problems seen while reconciling (a dead helper process), not persisted.</summary>
    public List<string> Problems { get; } = new();

    /// <summary>Records that failed validation and are never acted on (reported with the VM, kept apart from helper problems).</summary>
    public List<string> RecordProblems { get; } = new();

    public string StateFile => store.Paths.StateFile(Name);

    /// <summary>
    /// Writes the state atomically, flushed to disk. <paramref name="durable"/> false is for a
    /// transient state that the next command re-derives anyway (Stopping): not worth an fsync, which
    /// on a busy disk first writes out whatever else is dirty (a booting guest's disk writes).
    /// </summary>
    public void Save(VmState state, bool durable = true)
    {
        store.WriteState(Name, state, durable);
        State = state;
    }

    /// <summary>
    /// The definition as written now: after a restore put back its checkpoint's machine, or after a
    /// rollback wrote back the one from before (the session was opened with the file as it was then).
    /// </summary>
    public void Redefine(VmDefinition definition) => Definition = definition;

    public void Dispose() => vmLock.Dispose();
}
