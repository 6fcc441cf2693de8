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
        var pattern = VmNameCompleter.PrefixPattern(wordToComplete);
        return VmManager.FromEnvironment().ListNames()
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, name));
    }

    /// <summary>
    /// What was typed, plus '*': wildcards typed by the user keep working ('w*1'), and a word that
    /// is not a valid pattern (an unclosed '[') is matched literally instead of failing.
    /// </summary>
    internal static WildcardPattern PrefixPattern(string wordToComplete)
    {
        var word = wordToComplete.Trim('\'', '"');
        try
        {
            var pattern = new WildcardPattern(word + "*", WildcardOptions.IgnoreCase);
            pattern.IsMatch(string.Empty);
            return pattern;
        }
        catch (WildcardPatternException)
        {
            return new WildcardPattern(WildcardPattern.Escape(word) + "*", WildcardOptions.IgnoreCase);
        }
    }
}
