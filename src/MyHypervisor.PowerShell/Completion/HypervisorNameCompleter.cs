using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Completion;

/// <summary>Tab completion of the engines New-MyVm -Hypervisor accepts, with whether each is installed.</summary>
public sealed class HypervisorNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = VmNameCompleter.PrefixPattern(wordToComplete.Trim('\'', '"'));
        foreach (var name in VmManager.HypervisorNames.Where(n => pattern.IsMatch(n)))
        {
            var executable = VmManager.DriverFor(name).FindExecutable();
            yield return new CompletionResult(name, name, CompletionResultType.ParameterValue,
                executable is null ? $"{name} (not installed on this host)" : $"{name} ({executable})");
        }
    }
}
