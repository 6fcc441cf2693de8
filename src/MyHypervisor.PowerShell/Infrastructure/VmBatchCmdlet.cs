using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.PowerShell.Completion;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// Shared shape of Start-MyVm and Stop-MyVm: VM names from -Name or the pipeline, confirmed one
/// by one, then acted on in EndProcessing so several VMs share one overall progress bar, either
/// here or in a background job (-AsJob).
/// </summary>
public abstract partial class VmBatchCmdlet : MyHypervisorCmdlet
{
    private readonly List<string> confirmed = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    // An empty name reaches the name rules, so it fails as InvalidVmName like any other bad name.
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>Writes the VM object when the action is done.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Runs the action in a background job and returns the job at once.</summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    private protected override bool WantsJob => AsJob;

    private protected override bool ConfirmForJob() =>
        ShouldProcess($"VM '{string.Join("', '", Name)}' on VM host '{string.Join("', '", VmHost ?? Array.Empty<string>())}'", ActionVerb);

    /// <summary>"Start", "Stop": for confirmation prompts and progress.</summary>
    protected abstract string ActionVerb { get; }

    /// <summary>Acts on one VM; returns the object -PassThru writes.</summary>
    protected abstract object? Act(string name, OperationContext context);

    /// <summary>VMs reached through a wildcard rather than by name (a cmdlet may skip those not in the state it needs).</summary>
    protected HashSet<string> MatchedByPattern { get; } = new(StringComparer.Ordinal);

    protected override void ProcessLocalRecord()
    {
        foreach (var pattern in Name)
            foreach (var name in ResolveNames(new[] { pattern }))
            {
                if (WildcardPattern.ContainsWildcardCharacters(pattern)) MatchedByPattern.Add(name);
                if (!confirmed.Contains(name) && ShouldProcess($"VM '{name}'", ActionVerb))
                    confirmed.Add(name);
            }
    }

    /// <summary>
    /// Runs an action that needs a live VM: a VM named literally that is not running is a
    /// VmNotRunning error; one matched by a wildcard is skipped, as Get-MyVmStats does.
    /// </summary>
    protected object? ForLiveVm(string name, OperationContext context, Func<object?> action)
    {
        try { return action(); }
        catch (MyHvException e) when (e.Kind == MyHvErrorKind.VmNotRunning && MatchedByPattern.Contains(name))
        {
            context.Say($"VM '{name}' is not running; skipped");
            return null;
        }
    }

    /// <summary>The overall bar's title when several VMs are acted on: "Start-MyVm: 3 VMs".</summary>
    private string OverallActivity => $"{ActionVerb}-MyVm: {confirmed.Count} VMs";

    protected override void EndLocalProcessing()
    {
        if (confirmed.Count == 0) { base.EndLocalProcessing(); return; }
        if (AsJob)
        {
            var names = string.Join(", ", confirmed);
            var job = new VmBatchJob($"{ActionVerb}-MyVm {names}", $"{ActionVerb}-MyVm -Name {names}", confirmed.ToArray(), Act, PassThru,
                OverallActivity, GetType(), ThrottleLimit);
            JobRepository.Add(job);
            job.StartInBackground();
            WriteObject(job);
            return;
        }
        ActConcurrently(confirmed, OverallActivity);
        base.EndLocalProcessing();
    }
}
