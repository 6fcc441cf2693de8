using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Completion;

/// <summary>
/// Tab completion of checkpoint names: those of the VMs named by -Name when it is already typed
/// (wildcards too), else of every VM; read from the disks without locking or reconciling.
/// </summary>
public sealed class CheckpointNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var manager = VmManager.FromEnvironment();
        var vms = manager.ListNames();
        if (fakeBoundParameters["Name"] is { } bound)
        {
            var patterns = LanguagePrimitives.GetEnumerable(bound) is { } many ? many.Cast<object>().Select(o => o?.ToString() ?? "") : new[] { bound.ToString() ?? "" };
            var wildcards = patterns.Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase)).ToList();
            vms = vms.Where(vm => wildcards.Any(w => w.IsMatch(vm))).ToList();
        }
        var pattern = VmNameCompleter.PrefixPattern(wordToComplete);
        return vms.SelectMany(manager.CheckpointNamesForCompletion)
            .Distinct(StringComparer.Ordinal)
            .Where(pattern.IsMatch)
            .OrderBy(n => n, StringComparer.Ordinal)
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
    }
}
