using System.Text.Json;
using System.Text.Json.Serialization;

namespace MyHypervisor.Core.Storage;

/// <summary>The one JSON configuration for everything the module persists.</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Single-line form for journal records (one record per line).</summary>
    public static readonly JsonSerializerOptions Compact = new(Options) { WriteIndented = false };
}
