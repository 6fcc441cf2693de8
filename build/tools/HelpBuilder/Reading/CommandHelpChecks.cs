using MyHypervisor.HelpBuilder.Model;

namespace MyHypervisor.HelpBuilder.Reading;

/// <summary>
/// Whole-page checks after the walk: the required sections have content, every parameter has
/// a description and metadata, and the SYNTAX lines agree with the parameters' "Parameter Sets".
/// </summary>
public static class CommandHelpChecks
{
    public static void Check(CommandHelp help, DocProblems problems)
    {
        var expectedName = Path.GetFileNameWithoutExtension(help.SourceFile);
        if (!help.Name.Equals(expectedName, StringComparison.Ordinal))
            problems.Add(0, $"the H1 is '{help.Name}' but the file is named for '{expectedName}'");
        if (help.Synopsis.Length == 0) problems.Add(0, "SYNOPSIS is missing or empty");
        if (help.Description.Count == 0) problems.Add(0, "DESCRIPTION is missing or empty");
        if (help.Syntax.Count == 0) problems.Add(0, "SYNTAX is missing or has no '### <SetName>' with a syntax block");
        if (help.Examples.Count == 0) problems.Add(0, "EXAMPLES is missing or has no example");
        if (help.Inputs.Count == 0) problems.Add(0, "INPUTS is missing or has no '### <Type>' (write '### None' when nothing is piped)");
        if (help.Outputs.Count == 0) problems.Add(0, "OUTPUTS is missing or has no '### <Type>'");

        foreach (var example in help.Examples.Where(e => e.Code is null))
            problems.Add(example.Line, $"'{example.Title}' has no ```powershell code block");

        foreach (var parameter in help.Parameters)
        {
            if (parameter.Description.Count == 0)
                problems.Add(parameter.Line, $"-{parameter.Name} has no description");
            if (parameter.Metadata.Count == 0)
                problems.Add(parameter.Line, $"-{parameter.Name} has no ```yaml metadata block");
        }
        if (problems.Any) return;
        CheckSyntax(help, problems);
    }

    /// <summary>Each syntax line names exactly the parameters whose metadata places them in that set.</summary>
    private static void CheckSyntax(CommandHelp help, DocProblems problems)
    {
        var setNames = help.Syntax.Select(s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in help.Parameters)
            foreach (var set in parameter.Metadata.SelectMany(m => m.ParameterSets))
                if (set != ParameterMetadata.AllSets && !setNames.Contains(set))
                    problems.Add(parameter.Line, $"-{parameter.Name} names the parameter set '{set}', which SYNTAX does not have");

        foreach (var syntax in help.Syntax)
        {
            if (!syntax.Text.StartsWith(help.Name, StringComparison.OrdinalIgnoreCase))
                problems.Add(syntax.Line, $"the syntax of set '{syntax.Name}' should start with '{help.Name}'");
            var inSet = help.Parameters.Where(p => p.Metadata.Any(m => m.AppliesTo(syntax.Name))).Select(p => p.Name).ToList();
            foreach (var missing in inSet.Where(p => !syntax.ParameterOrder.Contains(p, StringComparer.OrdinalIgnoreCase)))
                problems.Add(syntax.Line, $"the syntax of set '{syntax.Name}' lacks -{missing}, which its metadata places in that set");
            foreach (var extra in syntax.ParameterOrder.Where(p => !inSet.Contains(p, StringComparer.OrdinalIgnoreCase)))
                problems.Add(syntax.Line, $"the syntax of set '{syntax.Name}' names -{extra}, which no parameter's metadata places in that set");
        }
    }
}
