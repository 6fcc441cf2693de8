using System.Text;
using System.Xml;
using System.Xml.Linq;
using MyHypervisor.HelpBuilder.Model;
using static MyHypervisor.HelpBuilder.Writing.Maml;

namespace MyHypervisor.HelpBuilder.Writing;

/// <summary>
/// Writes the MAML help file: helpItems/command:command per cmdlet, with details, description,
/// syntax (one item per parameter set), parameters, inputs, outputs, notes, examples and links,
/// in the element order Get-Help reads.
/// </summary>
public static class MamlWriter
{
    public static XDocument Build(IEnumerable<CommandHelp> commands) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems",
                new XAttribute("schema", "maml"),
                new XAttribute(XNamespace.Xmlns + "maml", Doc),
                new XAttribute(XNamespace.Xmlns + "command", Command),
                new XAttribute(XNamespace.Xmlns + "dev", Dev),
                commands.OrderBy(c => c.Name, StringComparer.Ordinal).Select(CommandElement)));

    /// <summary>Writes to a temporary file first, so a failed run never leaves half a help file.</summary>
    public static void Save(XDocument document, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) };
        using (var writer = XmlWriter.Create(temp, settings)) document.Save(writer);
        File.Move(temp, path, overwrite: true);
    }

    private static XElement CommandElement(CommandHelp help) =>
        new(Command + "command",
            new XElement(Command + "details",
                new XElement(Command + "name", help.Name),
                Description(new[] { help.Synopsis }),
                new XElement(Command + "verb", help.Verb),
                new XElement(Command + "noun", help.Noun)),
            Description(help.Description),
            new XElement(Command + "syntax", help.Syntax.Select(s => SyntaxItem(help, s))),
            new XElement(Command + "parameters", help.Parameters.Select(p => Parameter(p, p.Metadata[0], inSyntax: false))),
            new XElement(Command + "inputTypes", help.Inputs.Select(t => TypeElement("inputType", t))),
            new XElement(Command + "returnValues", help.Outputs.Select(t => TypeElement("returnValue", t))),
            new XElement(Doc + "alertSet", new XElement(Doc + "alert", Paras(help.Notes))),
            new XElement(Command + "examples", help.Examples.Select(Example)),
            new XElement(Command + "relatedLinks", help.Links.Select(Link)));

    /// <summary>The set's parameters in the order its syntax line names them.</summary>
    private static XElement SyntaxItem(CommandHelp help, SyntaxSet set)
    {
        var parameters = set.ParameterOrder
            .Select(name => help.Parameters.First(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
            .Select(p => Parameter(p, p.Metadata.First(m => m.AppliesTo(set.Name)), inSyntax: true));
        return new XElement(Command + "syntaxItem", new XElement(Doc + "name", help.Name), parameters);
    }

    private static XElement Parameter(ParameterHelp parameter, ParameterMetadata metadata, bool inSyntax)
    {
        var element = new XElement(Command + "parameter",
            new XAttribute("required", Bool(metadata.Required)),
            new XAttribute("variableLength", Bool(metadata.Type.EndsWith("[]", StringComparison.Ordinal))),
            new XAttribute("globbing", Bool(metadata.Wildcards)),
            new XAttribute("pipelineInput", metadata.PipelineInput),
            new XAttribute("position", metadata.Position?.ToString() ?? "named"),
            new XAttribute("aliases", metadata.Aliases.Count == 0 ? "none" : string.Join(", ", metadata.Aliases)),
            new XElement(Doc + "name", parameter.Name),
            Description(parameter.Description));
        if (!metadata.IsSwitch)
        {
            if (inSyntax && metadata.AcceptedValues.Count > 0)
                element.Add(new XElement(Command + "parameterValueGroup",
                    metadata.AcceptedValues.Select(v => new XElement(Command + "parameterValue",
                        new XAttribute("required", "false"), new XAttribute(Command + "variableLength", "false"), v))));
            else
                element.Add(new XElement(Command + "parameterValue",
                    new XAttribute("required", "true"), new XAttribute("variableLength", "false"), metadata.Type));
        }
        element.Add(new XElement(Dev + "type", new XElement(Doc + "name", metadata.Type), new XElement(Doc + "uri")));
        element.Add(new XElement(Dev + "defaultValue", metadata.DefaultValue));
        return element;
    }

    private static XElement TypeElement(string kind, TypeHelp type) =>
        new(Command + kind,
            new XElement(Dev + "type", new XElement(Doc + "name", type.Name)),
            Description(type.Description));

    private static XElement Example(ExampleHelp example) =>
        new(Command + "example",
            new XElement(Doc + "title", $"-------------------------- {example.Title} --------------------------"),
            new XElement(Dev + "code", example.Code),
            // A trailing empty para: Get-Help then leaves a blank line before the next example's title.
            new XElement(Dev + "remarks", Paras(example.Remarks.Append(string.Empty))));

    /// <summary>A relative link (another page of these docs, such as Start-MyVm.md) means nothing to Get-Help: its uri is left empty.</summary>
    private static XElement Link(LinkHelp link) =>
        new(Doc + "navigationLink", new XElement(Doc + "linkText", link.Text),
            new XElement(Doc + "uri", Uri.TryCreate(link.Uri, UriKind.Absolute, out _) ? link.Uri : string.Empty));
}
