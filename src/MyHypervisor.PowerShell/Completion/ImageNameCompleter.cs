using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.PowerShell.Completion;

/// <summary>Tab completion of guest images found in the image search path.</summary>
public sealed class ImageNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = VmNameCompleter.PrefixPattern(wordToComplete);
        IReadOnlyList<Core.Images.GuestImage> images;
        try { images = VmManager.FromEnvironment().Images.List(); }
        catch (Core.Errors.MyHvException) { yield break; }
        foreach (var image in images.Where(i => pattern.IsMatch(i.Name)))
            yield return new CompletionResult(image.Name, image.Name, CompletionResultType.ParameterValue, image.Folder);
    }
}
