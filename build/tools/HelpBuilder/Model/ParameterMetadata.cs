namespace MyHypervisor.HelpBuilder.Model;

/// <summary>The attributes one ```yaml block under a parameter states.</summary>
public sealed record ParameterMetadata
{
    /// <summary>The value of "Parameter Sets" meaning every set.</summary>
    public const string AllSets = "(All)";

    public required string Type { get; init; }
    public required IReadOnlyList<string> ParameterSets { get; init; }
    public required IReadOnlyList<string> Aliases { get; init; }
    public required IReadOnlyList<string> AcceptedValues { get; init; }
    public required bool Required { get; init; }
    /// <summary>null for a named parameter, else the zero-based position.</summary>
    public required int? Position { get; init; }
    public required string DefaultValue { get; init; }
    public required bool ByValue { get; init; }
    public required bool ByPropertyName { get; init; }
    public required bool Wildcards { get; init; }

    public bool IsSwitch => Type is "SwitchParameter" or "System.Management.Automation.SwitchParameter";

    public bool AppliesTo(string set) =>
        ParameterSets.Contains(AllSets) || ParameterSets.Contains(set, StringComparer.OrdinalIgnoreCase);

    /// <summary>The MAML spelling: False, True (ByValue), True (ByPropertyName), True (ByValue, ByPropertyName).</summary>
    public string PipelineInput => (ByValue, ByPropertyName) switch
    {
        (true, true) => "True (ByValue, ByPropertyName)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };
}
