using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MyHypervisor.PowerShell.Completion;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>Tab completion of the connected VM hosts' names (localhost included).</summary>
public sealed class VmHostCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = VmNameCompleter.PrefixPattern(wordToComplete);
        return VmHostRegistry.Current.All.Select(h => h.Name).Where(pattern.IsMatch)
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, name));
    }
}
