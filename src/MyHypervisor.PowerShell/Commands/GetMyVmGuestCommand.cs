using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Guest;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Facts from inside running VMs through their guest agent: host name, OS, kernel, network
/// interfaces. A VM whose agent does not answer gives an object saying so (AgentStatus), not an error.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MyVmGuest")]
[OutputType(typeof(GuestFacts))]
public sealed class GetMyVmGuestCommand : MyHypervisorCmdlet
{
    /// <summary>Guests answered at once when -ThrottleLimit is not given (the agent waits, it does not compute).</summary>
    private protected override int InitialThrottleLimit => 8;

    private readonly List<string> names = new();

    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    /// <summary>Seconds to wait for each agent to answer.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 5;

    private readonly HashSet<string> fromPattern = new(StringComparer.Ordinal);

    protected override void ProcessLocalRecord()
    {
        foreach (var pattern in Name)
            foreach (var name in ResolveNames(new[] { pattern }))
            {
                if (WildcardPattern.ContainsWildcardCharacters(pattern)) fromPattern.Add(name);
                if (!names.Contains(name)) names.Add(name);
            }
    }

    protected override void EndLocalProcessing()
    {
        var service = new GuestService(Manager);
        ParallelVmRunner.Run(this, names, ThrottleLimit, Cancellation,
            (name, context) => service.Facts(name, TimeSpan.FromSeconds(TimeoutSeconds), context),
            WriteObject,
            (error, name) =>
            {
                // As Get-MyVmStats: a VM matched by a pattern that is not running is skipped quietly.
                if (error.Kind == MyHvErrorKind.VmNotRunning && fromPattern.Contains(name)) WriteVerbose(error.Message);
                else WriteVmError(error, name);
            },
            WriteVerbose);
        base.EndLocalProcessing();
    }
}
