using MyHypervisor.HelpBuilder.Model;

namespace MyHypervisor.HelpBuilder.Reading;

/// <summary>
/// Reads a parameter's ```yaml block in the PlatyPS v1 dialect: flat "Key: value" lines with the
/// keys Type, Parameter Sets, Aliases, Accepted values, Required, Position, Default value,
/// Accept pipeline input, Accept wildcard characters. Every key but Accepted values is required.
/// </summary>
public static class ParameterYaml
{
    private static readonly string[] RequiredKeys =
    {
        "Type", "Parameter Sets", "Aliases", "Required", "Position", "Default value",
        "Accept pipeline input", "Accept wildcard characters",
    };

    private static readonly HashSet<string> KnownKeys = new(RequiredKeys.Append("Accepted values"), StringComparer.OrdinalIgnoreCase);

    /// <summary>The block's metadata, or null after adding the reasons to <paramref name="problems"/>.</summary>
    public static ParameterMetadata? Parse(string text, int line, string parameter, DocProblems problems)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var ok = true;
        foreach (var raw in text.Replace("\r", string.Empty).Split('\n'))
        {
            if (raw.Trim().Length == 0) continue;
            var colon = raw.IndexOf(':');
            var key = colon > 0 ? raw[..colon].Trim() : raw.Trim();
            if (colon <= 0 || !KnownKeys.Contains(key))
            {
                problems.Add(line, $"-{parameter}: unknown yaml line '{raw.Trim()}' (keys: {string.Join(", ", KnownKeys)})");
                ok = false;
                continue;
            }
            values[key] = raw[(colon + 1)..].Trim();
        }
        foreach (var key in RequiredKeys.Where(k => !values.ContainsKey(k)))
        {
            problems.Add(line, $"-{parameter}: the yaml block lacks '{key}:'");
            ok = false;
        }
        if (!ok) return null;

        var required = Bool(values["Required"], "Required");
        var wildcards = Bool(values["Accept wildcard characters"], "Accept wildcard characters");
        var position = Position(values["Position"]);
        var pipeline = Pipeline(values["Accept pipeline input"]);
        var type = values["Type"];
        var sets = List(values["Parameter Sets"]);
        if (type.Length == 0) Fail("Type is empty");
        if (sets.Count == 0) Fail("Parameter Sets is empty (write (All) for every set)");
        if (!ok) return null;

        return new ParameterMetadata
        {
            Type = type,
            ParameterSets = sets,
            Aliases = List(values["Aliases"]),
            AcceptedValues = values.TryGetValue("Accepted values", out var accepted) ? List(accepted) : Array.Empty<string>(),
            Required = required,
            Position = position,
            DefaultValue = values["Default value"].Length == 0 ? "None" : values["Default value"],
            ByValue = pipeline.ByValue,
            ByPropertyName = pipeline.ByPropertyName,
            Wildcards = wildcards,
        };

        void Fail(string message)
        {
            problems.Add(line, $"-{parameter}: {message}");
            ok = false;
        }

        bool Bool(string value, string key)
        {
            if (bool.TryParse(value, out var result)) return result;
            Fail($"{key} is '{value}'; use True or False");
            return false;
        }

        int? Position(string value)
        {
            if (value.Equals("Named", StringComparison.OrdinalIgnoreCase)) return null;
            if (int.TryParse(value, out var n) && n >= 0) return n;
            Fail($"Position is '{value}'; use Named or a number from 0");
            return null;
        }

        (bool ByValue, bool ByPropertyName) Pipeline(string value)
        {
            if (value.Equals("False", StringComparison.OrdinalIgnoreCase)) return (false, false);
            var open = value.IndexOf('(');
            if (value.StartsWith("True", StringComparison.OrdinalIgnoreCase) && open > 0 && value.EndsWith(')'))
            {
                var kinds = List(value[(open + 1)..^1]);
                var byValue = kinds.Contains("ByValue", StringComparer.OrdinalIgnoreCase);
                var byName = kinds.Contains("ByPropertyName", StringComparer.OrdinalIgnoreCase);
                if ((byValue || byName) && kinds.All(k => k.Equals("ByValue", StringComparison.OrdinalIgnoreCase)
                                                       || k.Equals("ByPropertyName", StringComparison.OrdinalIgnoreCase)))
                    return (byValue, byName);
            }
            Fail($"Accept pipeline input is '{value}'; use False or True (ByValue), True (ByPropertyName), True (ByPropertyName, ByValue)");
            return (false, false);
        }
    }

    /// <summary>A comma-separated value; "None" or empty is the empty list.</summary>
    private static IReadOnlyList<string> List(string value)
    {
        if (value.Length == 0 || value.Equals("None", StringComparison.OrdinalIgnoreCase)) return Array.Empty<string>();
        return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
