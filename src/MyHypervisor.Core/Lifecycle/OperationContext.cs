namespace MyHypervisor.Core.Lifecycle;

/// <summary>
/// How Core talks back to its caller without knowing PowerShell: narration (-Verbose), progress
/// and cancellation (Ctrl+C). The cmdlet layer turns these into WriteVerbose and WriteProgress.
/// </summary>
public sealed record OperationContext(
    Action<string>? Narrate = null,
    Action<ProgressUpdate>? Progress = null,
    CancellationToken Cancel = default,
    Action<string>? Warn = null)
{
    public static readonly OperationContext Silent = new();

    public void Say(string message) => Narrate?.Invoke(message);

    /// <summary>Something the user should see even without -Verbose, that is not an error.</summary>
    public void Warning(string message) => Warn?.Invoke(message);

    public void Report(string vmName, string activity, string status, int percent) =>
        Progress?.Invoke(new ProgressUpdate(vmName, activity, status, percent));
}

/// <summary>One progress report: percent is -1 when unknown; 100 completes the activity.</summary>
public sealed record ProgressUpdate(string VmName, string Activity, string Status, int Percent);
