namespace MyHypervisor.Core.Errors;

/// <summary>An error the user can act on, with a stable kind and the VM it concerns.</summary>
public class MyHvException : Exception
{
    public MyHvException(MyHvErrorKind kind, string message, string? vmName = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        VmName = vmName;
    }

    public MyHvErrorKind Kind { get; }
    public string? VmName { get; }

    /// <summary>Artifacts a rollback could not remove; empty when cleanup was complete.</summary>
    public IReadOnlyList<string> Leftovers { get; init; } = Array.Empty<string>();

    /// <summary>The start step that failed, for VmStartFailed.</summary>
    public string? FailedStep { get; init; }
}
