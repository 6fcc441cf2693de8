using System.Management.Automation;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Marks an object with the host it came from: a VmHost property (so it pipes back to that host)
/// and a type name that selects the fleet views (grouped by host). Deserialized objects get the
/// same views as live ones.
/// </summary>
public static class FleetObjects
{
    public const string HostProperty = "VmHost";
    private const string Deserialized = "Deserialized.";

    public static PSObject Tag(object item, string hostName)
    {
        var obj = PSObject.AsPSObject(item);
        var property = obj.Properties[HostProperty];
        // A live object's own VmHost is "localhost" already (only local objects are live); a
        // deserialized one holds what its host called itself, which is replaced by our name for it.
        // (A deserialized object's properties are adapted ones, settable.)
        if (property is { IsSettable: true }) property.Value = hostName;
        else if (property is null) obj.Properties.Add(new PSNoteProperty(HostProperty, hostName));
        var typeName = obj.TypeNames.FirstOrDefault();
        if (typeName is not null)
        {
            var plain = typeName.StartsWith(Deserialized, StringComparison.Ordinal) ? typeName[Deserialized.Length..] : typeName;
            if (plain.StartsWith("MyHypervisor.", StringComparison.Ordinal) && !plain.StartsWith("MyHypervisor.Fleet.", StringComparison.Ordinal))
                obj.TypeNames.Insert(0, "MyHypervisor.Fleet." + plain[(plain.LastIndexOf('.') + 1)..]);
        }
        return obj;
    }

    /// <summary>A property of a live or deserialized object, as a string (null when absent).</summary>
    public static string? Text(PSObject obj, string name) => obj.Properties[name]?.Value?.ToString();

    public static long Number(PSObject obj, string name) =>
        obj.Properties[name]?.Value is { } value && long.TryParse(value.ToString(), out var n) ? n : 0;
}
