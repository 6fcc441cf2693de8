using System.Management.Automation;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;
using MyHypervisor.PowerShell.Completion;
using MyHypervisor.PowerShell.Infrastructure;

namespace MyHypervisor.PowerShell.Commands;

/// <summary>Defines a VM (nothing runs yet). Every setting is checked before anything is written.</summary>
[Cmdlet(VerbsCommon.New, "MyVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VmInfo))]
public sealed class NewMyVmCommand : MyHypervisorCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string Image { get; set; } = "tiny";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public int Cpus { get; set; } = 1;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public int MemoryMiB { get; set; } = 256;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public NetworkMode Network { get; set; } = NetworkMode.User;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Bridge { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? IPAddress { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Gateway { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public VmVolume[] Volume { get; set; } = Array.Empty<VmVolume>();

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? KernelArguments { get; set; }

    protected override void ProcessRecord()
    {
        // -Bridge alone means a bridged network; an explicit -Network still wins (and is validated).
        var network = Bridge is not null && !MyInvocation.BoundParameters.ContainsKey(nameof(Network)) ? NetworkMode.Bridge : Network;
        var spec = new VmSpec
        {
            Name = Name, Image = Image, Cpus = Cpus, MemoryMiB = MemoryMiB, Network = network,
            Bridge = Bridge, Address = IPAddress, Gateway = Gateway, Volumes = Volume, KernelArguments = KernelArguments,
        };
        try
        {
            var definition = Manager.PlanNew(spec);
            var what = $"{definition.Cpus} CPU, {definition.MemoryMiB} MiB, image '{definition.Image}', network {definition.Network}";
            if (!ShouldProcess($"VM '{Name}' ({what})", "Create")) return;
            WriteObject(Manager.Create(definition, CreateContext()));
        }
        catch (MyHvException e)
        {
            // The invocation's own values are wrong: nothing was created, and nothing can be for this input.
            ThrowVmError(e, Name);
        }
    }
}
