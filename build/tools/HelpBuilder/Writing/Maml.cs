using System.Xml.Linq;

namespace MyHypervisor.HelpBuilder.Writing;

/// <summary>The MAML namespaces Get-Help expects (as platyPS's MamlWriter/Constants.cs has them).</summary>
public static class Maml
{
    public static readonly XNamespace Msh = "http://msh";
    public static readonly XNamespace Doc = "http://schemas.microsoft.com/maml/2004/10";
    public static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    public static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    /// <summary>maml:para elements, one per paragraph (an empty para when there is none).</summary>
    public static IEnumerable<XElement> Paras(IEnumerable<string> paragraphs)
    {
        var list = paragraphs.ToList();
        if (list.Count == 0) list.Add(string.Empty);
        return list.Select(p => new XElement(Doc + "para", p));
    }

    public static XElement Description(IEnumerable<string> paragraphs) => new(Doc + "description", Paras(paragraphs));

    public static string Bool(bool value) => value ? "true" : "false";
}
