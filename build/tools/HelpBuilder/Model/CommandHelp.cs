namespace MyHypervisor.HelpBuilder.Model;

/// <summary>One cmdlet's help as the markdown states it; the writer turns it into MAML.</summary>
public sealed class CommandHelp
{
    public required string Name { get; init; }
    public required string SourceFile { get; init; }
    public string Synopsis { get; set; } = string.Empty;
    public List<string> Description { get; } = new();
    public List<SyntaxSet> Syntax { get; } = new();
    public List<ExampleHelp> Examples { get; } = new();
    public List<ParameterHelp> Parameters { get; } = new();
    public List<TypeHelp> Inputs { get; } = new();
    public List<TypeHelp> Outputs { get; } = new();
    public List<string> Notes { get; } = new();
    public List<LinkHelp> Links { get; } = new();

    public string Verb => Name.Split('-', 2)[0];
    public string Noun => Name.Contains('-') ? Name.Split('-', 2)[1] : string.Empty;
}

/// <summary>A SYNTAX entry: one parameter set, the parameter names of its syntax line in order.</summary>
public sealed record SyntaxSet(string Name, bool IsDefault, string Text, IReadOnlyList<string> ParameterOrder, int Line);

public sealed class ExampleHelp
{
    public required string Title { get; init; }
    public required int Line { get; init; }
    public string? Code { get; set; }
    public List<string> Remarks { get; } = new();
}

public sealed class ParameterHelp
{
    public required string Name { get; init; }
    public required int Line { get; init; }
    public List<string> Description { get; } = new();
    /// <summary>One entry per yaml block (PlatyPS writes one block per group of sets that share attributes).</summary>
    public List<ParameterMetadata> Metadata { get; } = new();
}

public sealed class TypeHelp
{
    public required string Name { get; init; }
    public List<string> Description { get; } = new();
}

public sealed record LinkHelp(string Text, string Uri);
