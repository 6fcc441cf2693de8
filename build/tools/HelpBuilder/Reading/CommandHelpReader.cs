using System.Text.RegularExpressions;
using Markdig;
using Markdig.Extensions.Yaml;
using Markdig.Syntax;
using MyHypervisor.HelpBuilder.Model;

namespace MyHypervisor.HelpBuilder.Reading;

/// <summary>
/// Reads one PlatyPS v1 cmdlet page by walking Markdig's top-level blocks: an H2 switches the
/// section, an H3 starts an item (a syntax set, an example, a parameter, a type), and a fenced
/// block's info string says what it holds (yaml metadata, powershell code, or a syntax line).
/// Problems are collected, not thrown, so one run lists them all.
/// </summary>
public sealed partial class CommandHelpReader
{
    public const string CommonParametersHeading = "CommonParameters";

    /// <summary>The H2 sections of a cmdlet page, in the order PlatyPS writes them.</summary>
    public static readonly string[] Sections =
    {
        "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS",
    };

    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseYamlFrontMatter().Build();

    [GeneratedRegex(@"(?<![\w-])-(?<name>[A-Za-z][A-Za-z0-9]*)")]
    private static partial Regex SyntaxParameter();

    [GeneratedRegex(@"^\[(?<text>[^\]]+)\]\((?<uri>[^)]*)\)$")]
    private static partial Regex MarkdownLink();

    private readonly DocProblems problems;
    private readonly string text;
    private CommandHelp? help;
    private string? section;
    private int sectionIndex = -1;
    private object? item;
    private bool inCommonParameters;

    private CommandHelpReader(string file, string text)
    {
        problems = new DocProblems(file);
        this.text = text;
    }

    /// <summary>Front matter of a page, for telling cmdlet pages from the module page.</summary>
    public static Dictionary<string, string> ReadFrontMatter(string text)
    {
        var document = Markdown.Parse(text, Pipeline);
        return document.FirstOrDefault() is YamlFrontMatterBlock block
            ? FrontMatter.Parse(block.Lines.ToString())
            : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Reads a cmdlet page; returns null when it has problems (added to the list).</summary>
    public static (CommandHelp? Help, IReadOnlyList<DocProblem> Problems) Read(string file, string text)
    {
        var reader = new CommandHelpReader(file, text);
        var result = reader.Walk();
        if (result is not null) CommandHelpChecks.Check(result, reader.problems);
        return (reader.problems.Any ? null : result, reader.problems.Items);
    }

    private CommandHelp? Walk()
    {
        var document = Markdown.Parse(text, Pipeline);
        var blocks = document.ToList();
        if (blocks.FirstOrDefault() is not YamlFrontMatterBlock front)
        {
            problems.Add(0, "no front matter: the page must start with --- lines (external help file, Module Name, online version, schema)");
            return null;
        }
        CheckFrontMatter(FrontMatter.Parse(front.Lines.ToString()), front.Line);

        foreach (var block in blocks.Skip(1))
        {
            switch (block)
            {
                case HeadingBlock { Level: 1 } h1:
                    if (help is not null) problems.Add(h1.Line, "a second H1; a page documents one cmdlet");
                    else help = new CommandHelp { Name = MarkdownText.Inline(h1.Inline), SourceFile = problems.File };
                    break;
                case HeadingBlock heading when help is null:
                    problems.Add(heading.Line, "a heading before the H1 with the cmdlet's name");
                    break;
                case HeadingBlock { Level: 2 } h2:
                    StartSection(MarkdownText.Inline(h2.Inline), h2.Line);
                    break;
                case HeadingBlock { Level: 3 } h3:
                    StartItem(MarkdownText.Inline(h3.Inline), h3.Line);
                    break;
                case HeadingBlock other:
                    problems.Add(other.Line, $"H{other.Level} headings are not part of the layout (use H2 sections and H3 items)");
                    break;
                case FencedCodeBlock code when help is not null:
                    AddCode(code);
                    break;
                default:
                    if (help is not null) AddText(block);
                    else if (MarkdownText.Paragraphs(block).Any()) problems.Add(block.Line, "text before the H1 with the cmdlet's name");
                    break;
            }
        }
        if (help is null) problems.Add(0, "no H1 with the cmdlet's name");
        return help;
    }

    private void CheckFrontMatter(Dictionary<string, string> values, int line)
    {
        foreach (var key in new[] { "external help file", "Module Name", "online version", "schema" })
            if (!values.ContainsKey(key)) problems.Add(line, $"the front matter lacks '{key}:'");
        if (values.TryGetValue("schema", out var schema) && schema != "2.0.0")
            problems.Add(line, $"schema is '{schema}'; this reader takes the PlatyPS v1 layout, schema 2.0.0");
    }

    private void StartSection(string name, int line)
    {
        var upper = name.ToUpperInvariant();
        var index = Array.IndexOf(Sections, upper);
        if (index < 0)
        {
            problems.Add(line, $"unknown section '## {name}' (sections: {string.Join(", ", Sections)})");
            section = null;
        }
        else if (index <= sectionIndex)
        {
            problems.Add(line, $"section '## {name}' is out of order or repeated (order: {string.Join(", ", Sections)})");
            section = null;
        }
        else
        {
            section = upper;
            sectionIndex = index;
        }
        item = null;
        inCommonParameters = false;
    }

    private void StartItem(string title, int line)
    {
        var h = help!;
        item = null;
        inCommonParameters = false;
        switch (section)
        {
            case "SYNTAX":
                // The set name; the syntax line itself comes in the fenced block below.
                item = new PendingSyntax(title.Replace("(Default)", string.Empty).Trim(), title.Contains("(Default)"), line);
                break;
            case "EXAMPLES":
                if (!title.StartsWith("Example", StringComparison.OrdinalIgnoreCase))
                    problems.Add(line, $"example heading '{title}' should read 'Example N: what it shows'");
                var example = new ExampleHelp { Title = title, Line = line };
                h.Examples.Add(example);
                item = example;
                break;
            case "PARAMETERS":
                if (title == CommonParametersHeading) { inCommonParameters = true; break; }
                if (!title.StartsWith('-') || title.Length < 2 || title.Contains(' '))
                {
                    problems.Add(line, $"parameter heading '{title}' should be '-Name'");
                    break;
                }
                var name = title[1..];
                if (h.Parameters.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    problems.Add(line, $"-{name} is documented twice");
                var parameter = new ParameterHelp { Name = name, Line = line };
                h.Parameters.Add(parameter);
                item = parameter;
                break;
            case "INPUTS" or "OUTPUTS":
                var type = new TypeHelp { Name = title };
                (section == "INPUTS" ? h.Inputs : h.Outputs).Add(type);
                item = type;
                break;
            default:
                problems.Add(line, $"an H3 ('{title}') is not expected in {section ?? "this part of the page"}");
                break;
        }
    }

    private void AddCode(FencedCodeBlock code)
    {
        var h = help!;
        var info = (code.Info ?? string.Empty).Trim().ToLowerInvariant();
        var content = MarkdownText.Code(code);
        switch (section, item)
        {
            case ("SYNTAX", PendingSyntax pending):
                var order = SyntaxParameter().Matches(content).Select(m => m.Groups["name"].Value).ToList();
                h.Syntax.Add(new SyntaxSet(pending.Name, pending.IsDefault, content, order, pending.Line));
                item = null;
                break;
            case ("SYNTAX", _):
                problems.Add(code.Line, "a syntax block without its '### <ParameterSetName>' heading");
                break;
            case ("EXAMPLES", ExampleHelp example) when example.Code is null:
                if (info is not ("powershell" or "pwsh" or "ps1"))
                    problems.Add(code.Line, $"the example's code block is marked '{info}'; mark it ```powershell");
                example.Code = content;
                break;
            case ("PARAMETERS", ParameterHelp parameter) when info == "yaml":
                var metadata = ParameterYaml.Parse(content, code.Line, parameter.Name, problems);
                if (metadata is not null) parameter.Metadata.Add(metadata);
                break;
            case ("PARAMETERS", _) when info == "yaml":
                problems.Add(code.Line, "a yaml block outside a '### -Parameter' item");
                break;
            default:
                // Any other block (an example's output, a snippet in the description) is text.
                AddText(code);
                break;
        }
    }

    private void AddText(Block block)
    {
        var paragraphs = MarkdownText.Paragraphs(block).ToList();
        if (paragraphs.Count == 0) return;
        var h = help!;
        switch (section, item)
        {
            case ("SYNOPSIS", _):
                h.Synopsis = h.Synopsis.Length == 0 ? string.Join(" ", paragraphs) : h.Synopsis + " " + string.Join(" ", paragraphs);
                break;
            case ("DESCRIPTION", _):
                h.Description.AddRange(paragraphs);
                break;
            case ("EXAMPLES", ExampleHelp example):
                example.Remarks.AddRange(paragraphs);
                break;
            case ("PARAMETERS", ParameterHelp parameter):
                if (parameter.Metadata.Count > 0)
                    problems.Add(block.Line, $"-{parameter.Name}: text after the yaml block (the description goes above it)");
                else parameter.Description.AddRange(paragraphs);
                break;
            case ("PARAMETERS", _) when inCommonParameters:
                break;
            case ("INPUTS" or "OUTPUTS", TypeHelp type):
                type.Description.AddRange(paragraphs);
                break;
            case ("NOTES", _):
                h.Notes.AddRange(paragraphs);
                break;
            case ("RELATED LINKS", _):
                AddLinks(block);
                break;
            case ("SYNTAX", _):
                problems.Add(block.Line, "text in SYNTAX: each set is '### <SetName>' and a fenced syntax block");
                break;
            default:
                problems.Add(block.Line, $"text that belongs to no section or item: '{Shorten(paragraphs[0])}'");
                break;
        }
    }

    /// <summary>RELATED LINKS holds one [text](uri) per line (uri may be empty for a cmdlet name).</summary>
    private void AddLinks(Block block)
    {
        var source = text.Substring(block.Span.Start, block.Span.Length).Replace("\r", string.Empty);
        foreach (var raw in source.Split('\n'))
        {
            var line = raw.Trim().TrimStart('-', '*').Trim();
            if (line.Length == 0) continue;
            var match = MarkdownLink().Match(line);
            if (match.Success) help!.Links.Add(new LinkHelp(match.Groups["text"].Value, match.Groups["uri"].Value));
            else problems.Add(block.Line, $"RELATED LINKS holds [text](uri) lines only, not '{Shorten(line)}'");
        }
    }

    private static string Shorten(string value) => value.Length <= 60 ? value : value[..57] + "...";

    private sealed record PendingSyntax(string Name, bool IsDefault, int Line);
}
