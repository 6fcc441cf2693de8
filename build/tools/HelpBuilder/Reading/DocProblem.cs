namespace MyHypervisor.HelpBuilder.Reading;

/// <summary>Something wrong with a markdown file, with the line (1-based) to fix it at.</summary>
public sealed record DocProblem(string File, int Line, string Message)
{
    public override string ToString() => $"{File}({Line}): {Message}";
}

/// <summary>Collects the problems of one file, so one run reports all of them, not just the first.</summary>
public sealed class DocProblems(string file)
{
    private readonly List<DocProblem> items = new();

    public string File { get; } = file;
    public IReadOnlyList<DocProblem> Items => items;
    public bool Any => items.Count > 0;

    /// <param name="line">Markdig's zero-based line; stored 1-based.</param>
    public void Add(int line, string message) => items.Add(new DocProblem(File, line + 1, message));
}
