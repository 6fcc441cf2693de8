using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Processes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// Work inside a running guest through its agent: commands, file copies, facts. Each call checks
/// the VM for real first (the VM's lock only for that check: a long command must not block
/// Stop-MyVm), then holds the VM's agent lock for the exchange. Agent problems come out as
/// GuestAgentUnavailable with the reason, a VM that is not running as VmNotRunning.
/// </summary>
public sealed class GuestService(VmManager manager)
{
    private MyHvPaths Paths => manager.Paths;

    public GuestCommandResult Invoke(string name, GuestCommandRequest request, OperationContext context)
    {
        var problem = request.Problem();
        if (problem is not null) throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"Cannot run the command in VM '{name}': {problem}.", name);
        return WithAgent(name, request.Timeout, context, agent =>
        {
            context.Say($"VM '{name}': running {request.Display}");
            var result = GuestCommandRunner.Run(agent, name, request, context.Cancel);
            context.Say($"VM '{name}': exit code {result.ExitCode}{(result.TimedOut ? " (killed after the timeout)" : "")} in {result.Duration.TotalMilliseconds:0} ms");
            return result;
        });
    }

    public GuestFileTransfer.Outcome Copy(string name, string source, string destination, bool fromGuest, bool force,
        TimeSpan timeout, GuestFileTransfer.ProgressCallback progress, OperationContext context) =>
        WithAgent(name, timeout, context, agent => fromGuest
            ? GuestFileTransfer.FromGuest(agent, name, source, destination, force, progress, context.Cancel)
            : GuestFileTransfer.ToGuest(agent, name, source, destination, force, progress, context.Cancel));

    /// <summary>The guest's facts; an agent that is absent or silent gives a status, not an error.</summary>
    public GuestFacts Facts(string name, TimeSpan timeout, OperationContext context)
    {
        try
        {
            var facts = WithAgent(name, timeout, context, agent => GuestFactsReader.Read(agent, name, context.Cancel));
            manager.RecordGuestAddresses(name, facts.IPAddress, context);
            return facts;
        }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.GuestAgentUnavailable)
        {
            var noAgent = e.Data.Contains(NoAgentKey);
            return new GuestFacts { VmName = name, AgentStatus = noAgent ? GuestAgentStatus.NoAgent : GuestAgentStatus.NotAnswering, Reason = e.Message };
        }
    }

    private const string NoAgentKey = "myhv.noagent";

    /// <summary>Checks the VM, takes its agent, connects and synchronises, runs the body; maps failures to contract ids.</summary>
    public T WithAgent<T>(string name, TimeSpan timeout, OperationContext context, Func<GuestAgentConnection, T> body)
    {
        var (definition, state) = manager.Inspect(name, context);
        if (state.Status != VmStatus.Running || state.Hypervisor is null)
            throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' is not running (it is {state.Status}).", name);
        if (!Lifecycle.VmManager.DriverFor(definition.Hypervisor).SupportsGuestAgent)
        {
            var refused = new MyHvException(MyHvErrorKind.GuestAgentUnavailable,
                $"VM '{name}' runs on {definition.Hypervisor}, where the module does not reach a guest agent: qemu-ga speaks over a " +
                "virtio-serial port, which Cloud Hypervisor does not have. Use a QEMU VM for work inside the guest.", name);
            refused.Data[NoAgentKey] = true;
            throw refused;
        }
        var hasAgent = state.GuestAgent ?? HasAgentImage(definition);
        var socket = Paths.AgentSocket(name);
        if (!hasAgent || !File.Exists(socket))
        {
            var why = !hasAgent
                ? $"its image '{definition.Image}' has no guest agent (image.json does not say \"GuestAgent\": true)"
                : "it was started without a guest agent port (started by an older version of the module); restart it";
            var error = new MyHvException(MyHvErrorKind.GuestAgentUnavailable, $"VM '{name}' cannot be reached inside: {why}.", name);
            error.Data[NoAgentKey] = true;
            throw error;
        }
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            using var agentLock = GuestAgentLock.TryAcquire(Paths.RuntimeDirectory(name), timeout, context.Cancel)
                ?? throw new GuestAgentUnavailableException($"another command kept its guest agent busy for {timeout.TotalSeconds:0} s");
            var left = deadline - DateTime.UtcNow;
            using var agent = GuestAgentConnection.Open(socket, left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left, context.Cancel);
            return body(agent);
        }
        catch (Exception e) when (e is GuestAgentUnavailableException or DirectoryNotFoundException)
        {
            // Inspect reality: a VM that died meanwhile is "not running", not an agent problem.
            if (!ProcessLiveness.IsAlive(state.Hypervisor))
                throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' stopped while its guest agent was in use.", name, e);
            throw new MyHvException(MyHvErrorKind.GuestAgentUnavailable, $"VM '{name}': {e.Message}.", name, e);
        }
        catch (GuestAgentCommandException e)
        {
            throw new MyHvException(MyHvErrorKind.GuestCommandFailed, $"VM '{name}': the guest agent's {e.Message}", name, e);
        }
    }

    private static bool HasAgentImage(VmDefinition definition)
    {
        try { return ImageCatalog.TryLoad(definition.ImagePath)?.GuestAgent ?? false; }
        catch (MyHvException) { return false; }
    }
}
