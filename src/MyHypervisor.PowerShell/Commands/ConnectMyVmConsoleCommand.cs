using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.SerialConsole;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>
/// An interactive session on a running VM's serial console in the current terminal: what is
/// typed goes to the guest, what the guest prints appears here (and in its console log, as
/// always). Ctrl+] detaches; the terminal is put back as it was on every way out.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "MyVmConsole")]
[OutputType(typeof(void))]
public sealed class ConnectMyVmConsoleCommand : MyHypervisorCmdlet
{
    /// <summary>One VM, by its exact name: a terminal attaches to one console at a time.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string Name { get; set; } = string.Empty;

    protected override void ProcessLocalRecord()
    {
        if (WildcardPattern.ContainsWildcardCharacters(Name))
            ThrowVmError(new MyHvException(MyHvErrorKind.InvalidVmName,
                $"'{Name}' is not a VM name: a terminal attaches to one VM's console, so give its exact name (no wildcards).", Name), Name);
        var context = CreateContext();
        foreach (var name in ResolveNames(new[] { Name }))
            TryForVm(name, () => Attach(name, context));
    }

    private void Attach(string name, Core.Lifecycle.OperationContext context)
    {
        var (_, state) = Manager.Inspect(name, context);
        using var attachment = ConsoleAttachment.Open(Manager.Paths, name, state);
        WriteVerbose($"Attached to {Manager.Paths.ConsoleSocket(name)}; Ctrl+] detaches");
        using var screen = Console.OpenStandardOutput();
        var ending = attachment.Run(screen, Cancellation);
        WriteVerbose($"Console session of VM '{name}' ended: {ending}");
        if (ending == ConsoleAttachment.Ending.PoweredOff)
            WriteWarning($"VM '{name}' powered off while attached; its console log keeps what it printed (Get-MyVmConsole -Name {name}).");
    }
}
