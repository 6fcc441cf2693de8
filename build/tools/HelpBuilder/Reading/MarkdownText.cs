using System.Text;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace MyHypervisor.HelpBuilder.Reading;

/// <summary>
/// Markdown blocks as the plain paragraphs MAML holds: emphasis and code spans lose their marks,
/// a link keeps its text, a list item becomes its own "- " paragraph, a code block stays verbatim.
/// </summary>
public static class MarkdownText
{
    public static IEnumerable<string> Paragraphs(Block block)
    {
        switch (block)
        {
            case ParagraphBlock paragraph:
                var text = Inline(paragraph.Inline);
                if (text.Length > 0) yield return text;
                break;
            case ListBlock list:
                var number = int.TryParse(list.OrderedStart, out var start) ? start : 1;
                foreach (var item in list.OfType<ListItemBlock>())
                {
                    var marker = list.IsOrdered ? $"{number++}. " : "- ";
                    var parts = item.SelectMany(Paragraphs).ToList();
                    if (parts.Count > 0) yield return marker + string.Join(" ", parts);
                }
                break;
            case QuoteBlock quote:
                foreach (var inner in quote.SelectMany(Paragraphs)) yield return inner;
                break;
            case CodeBlock codeBlock:
                var code = Code(codeBlock);
                if (code.Length > 0) yield return code;
                break;
            case ThematicBreakBlock or LinkReferenceDefinitionGroup or BlankLineBlock:
                break;
            case LeafBlock leaf:
                var raw = leaf.Inline is null ? leaf.Lines.ToString().Trim() : Inline(leaf.Inline);
                if (raw.Length > 0) yield return raw;
                break;
        }
    }

    /// <summary>A code block's lines, verbatim, without trailing blank lines.</summary>
    public static string Code(LeafBlock block) => block.Lines.ToString().Replace("\r", string.Empty).TrimEnd('\n', ' ');

    public static string Inline(ContainerInline? container)
    {
        if (container is null) return string.Empty;
        var builder = new StringBuilder();
        Append(builder, container);
        return builder.ToString().Trim();
    }

    private static void Append(StringBuilder builder, Inline inline)
    {
        switch (inline)
        {
            case LiteralInline literal:
                builder.Append(literal.Content.ToString());
                break;
            case CodeInline code:
                builder.Append(code.Content);
                break;
            case LineBreakInline lineBreak:
                builder.Append(lineBreak.IsHard ? "\n" : " ");
                break;
            case AutolinkInline autolink:
                builder.Append(autolink.Url);
                break;
            case HtmlEntityInline entity:
                builder.Append(entity.Transcoded.ToString());
                break;
            case HtmlInline html:
                builder.Append(html.Tag);
                break;
            case ContainerInline container:
                foreach (var child in container) Append(builder, child);
                break;
        }
    }
}
