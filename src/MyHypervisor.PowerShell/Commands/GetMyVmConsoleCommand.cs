using System.Management.Automation;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Reads a VM's serial console log (kept after the VM stops, replaced at its next start).</summary>
[Cmdlet(VerbsCommon.Get, "MyVmConsole")]
[OutputType(typeof(string))]
public sealed class GetMyVmConsoleCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    // An empty name reaches the name rules, so it fails as InvalidVmName like any other bad name.
    [AllowEmptyString]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>Only the last N lines; 0 (the default) means all.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int Tail { get; set; }

    protected override void ProcessLocalRecord()
    {
        var context = CreateContext();
        foreach (var name in ResolveNames(Name))
            TryForVm(name, () =>
            {
                foreach (var line in Manager.ReadConsole(name, Tail == 0 ? int.MaxValue : Tail, context))
                    WriteObject(line);
            });
    }
}
