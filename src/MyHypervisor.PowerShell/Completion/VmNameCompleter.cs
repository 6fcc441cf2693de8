using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Completion;

/// <summary>Tab completion of existing VM names, from the folder listing (no VM is reconciled or locked).</summary>
public sealed class VmNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return VmManager.FromEnvironment().ListNames()
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, name));
    }
}
