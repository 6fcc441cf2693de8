using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Stats;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Resource use of running VMs. A named VM that is not running is a VmNotRunning error; VMs
/// matched by a wildcard that are not running are skipped.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MyVmStats")]
[OutputType(typeof(VmStats))]
public sealed class GetMyVmStatsCommand : MyHypervisorCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var pattern in Name)
        {
            var isWildcard = WildcardPattern.ContainsWildcardCharacters(pattern);
            foreach (var name in ResolveNames(new[] { pattern }))
            {
                try
                {
                    WriteObject(Manager.GetStats(name, context));
                }
                catch (MyHvException e) when (e.Kind == MyHvErrorKind.VmNotRunning && isWildcard)
                {
                    WriteVerbose($"VM '{name}' is not running; no stats");
                }
                catch (MyHvException e)
                {
                    WriteVmError(e, name);
                }
            }
        }
    }
}
