using System.Collections;
using System.Management.Automation;
using System.Text;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Guest;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// Runs a program (argument list, no shell) or a /bin/sh command line inside running VMs through
/// their guest agent, several VMs in parallel, and returns one result per VM.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "MyVmCommand", DefaultParameterSetName = FileSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GuestCommandResult))]
public sealed class InvokeMyVmCommandCommand : MyHypervisorCmdlet
{
    /// <summary>Guests answered at once when -ThrottleLimit is not given (the agent waits, it does not compute).</summary>
    private protected override int InitialThrottleLimit => 8;

    private const string FileSet = "FilePath";
    private const string CommandSet = "Command";
    private readonly List<string> names = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>The program to run in the guest: a path, or a name looked up in the guest agent's PATH.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FileSet)]
    [ValidateNotNullOrEmpty]
    public string FilePath { get; set; } = "";

    /// <summary>The program's arguments, passed as they are (no shell, no word splitting).</summary>
    [Parameter(ParameterSetName = FileSet)]
    [Alias("Args")]
    public string[] ArgumentList { get; set; } = Array.Empty<string>();

    /// <summary>A command line run by the guest's /bin/sh -c (pipes, redirections, variables).</summary>
    [Parameter(Mandatory = true, ParameterSetName = CommandSet)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = "";

    /// <summary>Sent to the program's stdin: a string (UTF-8) or bytes (byte[]).</summary>
    [Parameter]
    public object? InputObject { get; set; }

    /// <summary>Seconds the command may run (and the agent may take to answer); on timeout it is killed in the guest.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 300;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    /// <summary>Variables added to the guest agent's environment for this command.</summary>
    [Parameter]
    public Hashtable? Environment { get; set; }

    /// <summary>A non-zero exit code (or a timeout) becomes a GuestCommandFailed error; the result is still written.</summary>
    [Parameter]
    public SwitchParameter ErrorOnNonZeroExit { get; set; }

    protected override void BeginLocalProcessing()
    {
        base.BeginLocalProcessing();   // MYHV_HOME is checked before anything in it is trusted
        if (InputObject is PSObject wrapped) InputObject = wrapped.BaseObject;
        if (InputObject is not null and not string and not byte[])
            ThrowVmError(new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"-InputObject takes a string or a byte[]; got {InputObject.GetType().Name}. Join lines into one string, or pass [byte[]]."));
    }

    protected override void ProcessLocalRecord()
    {
        foreach (var name in ResolveNames(Name))
            if (!names.Contains(name) && ShouldProcess($"VM '{name}'", $"Run {Describe()}"))
                names.Add(name);
    }

    protected override void EndLocalProcessing()
    {
        var request = BuildRequest();
        var service = new GuestService(Manager);
        ParallelVmRunner.Run(this, names, ThrottleLimit, Cancellation,
            (name, context) => service.Invoke(name, request, context),
            result =>
            {
                WriteObject(result);
                var r = (GuestCommandResult)result;
                if (ErrorOnNonZeroExit && !r.Succeeded)
                    WriteVmError(new MyHvException(MyHvErrorKind.GuestCommandFailed,
                        $"VM '{r.VmName}': {r.Command} {(r.TimedOut ? $"ran past {TimeoutSeconds} s and was killed" : $"exited with {r.ExitCode}")}" +
                        (r.StdErr.Length > 0 ? $": {Tail(r.StdErr)}" : "."), r.VmName), r.VmName);
            },
            (error, name) => WriteVmError(error, name),
            WriteVerbose);
        base.EndLocalProcessing();
    }

    private GuestCommandRequest BuildRequest()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Environment is not null)
            foreach (DictionaryEntry entry in Environment)
                environment[entry.Key?.ToString() ?? ""] = entry.Value?.ToString() ?? "";
        var input = InputObject switch
        {
            string text => Encoding.UTF8.GetBytes(text),
            byte[] bytes => bytes,
            _ => null,
        };
        var isCommand = ParameterSetName == CommandSet;
        return new GuestCommandRequest
        {
            FilePath = isCommand ? "/bin/sh" : FilePath,
            Arguments = isCommand ? new[] { "-c", Command } : ArgumentList,
            Input = input,
            WorkingDirectory = WorkingDirectory,
            Environment = environment,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            Display = Describe(),
        };
    }

    private string Describe() => ParameterSetName == CommandSet
        ? $"'{Command}'"
        : string.Join(' ', new[] { FilePath }.Concat(ArgumentList).Select(a => a.Contains(' ') || a.Length == 0 ? $"'{a}'" : a));

    private static string Tail(string text)
    {
        var trimmed = text.TrimEnd();
        return trimmed.Length <= 300 ? trimmed : "..." + trimmed[^300..];
    }
}
