using System.Management.Automation;
using MyHypervisor.Core.Guest;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Copies one file into a running VM (or out of it with -FromGuest) through its guest agent, in
/// chunks with a progress bar, SHA-256 checked on both ends; the destination appears only whole.
/// </summary>
[Cmdlet(VerbsCommon.Copy, "MyVmFile", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GuestFileCopy))]
public sealed class CopyMyVmFileCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>The file to copy: on the host, or in the guest with -FromGuest.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Where to: a guest path, or a host path with -FromGuest. An existing folder receives the file under its own name.</summary>
    [Parameter(Mandatory = true, Position = 2)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Copies from the guest to the host.</summary>
    [Parameter]
    public SwitchParameter FromGuest { get; set; }

    /// <summary>Overwrites an existing destination file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Seconds to wait for the guest agent to answer.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 30;

    protected override void ProcessLocalRecord()
    {
        // Host paths are relative to the current PowerShell location, not the process's.
        var hostPath = GetUnresolvedProviderPathFromPSPath(FromGuest ? Destination : Path);
        var source = FromGuest ? Path : hostPath;
        var destination = FromGuest ? hostPath : Destination;
        foreach (var name in ResolveNames(Name))
        {
            var target = FromGuest ? $"'{destination}' on the host, from '{source}' in VM '{name}'" : $"'{destination}' in VM '{name}', from '{source}'";
            if (!ShouldProcess(target, "Copy file")) continue;
            var activity = FromGuest ? $"Copying '{source}' from VM '{name}'" : $"Copying '{System.IO.Path.GetFileName(source)}' to VM '{name}'";
            var context = CreateContext();
            TryForVm(name, () =>
            {
                var outcome = new GuestService(Manager).Copy(name, source, destination, FromGuest, Force, TimeSpan.FromSeconds(TimeoutSeconds),
                    (done, total) => WriteProgress(new ProgressRecord(1, activity, $"{done / 1048576.0:0.0} of {total / 1048576.0:0.0} MiB")
                    {
                        PercentComplete = total == 0 ? 100 : (int)(100 * done / total),
                    }), context);
                WriteProgress(new ProgressRecord(1, activity, "Done") { RecordType = ProgressRecordType.Completed });
                WriteObject(new GuestFileCopy(name, FromGuest ? "FromGuest" : "ToGuest", outcome));
            });
        }
    }
}

/// <summary>What Copy-MyVmFile writes: what went where, its size and SHA-256 (equal on both ends), and the speed.</summary>
public sealed class GuestFileCopy(string vmName, string direction, GuestFileTransfer.Outcome outcome)
{
    public string VmName { get; } = vmName;
    /// <summary>ToGuest or FromGuest.</summary>
    public string Direction { get; } = direction;
    public string Source { get; } = outcome.Source;
    public string Destination { get; } = outcome.Destination;
    public long Length { get; } = outcome.Bytes;
    public string Sha256 { get; } = outcome.Sha256;
    public TimeSpan Duration { get; } = outcome.Duration;
    public double MiBPerSecond { get; } = outcome.Duration.TotalSeconds > 0 ? outcome.Bytes / 1048576.0 / outcome.Duration.TotalSeconds : 0;
    public override string ToString() => Destination;
}
