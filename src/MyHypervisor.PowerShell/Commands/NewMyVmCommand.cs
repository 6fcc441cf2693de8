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
    // By value too: 'web1', 'web2' | New-MyVm, as with the other cmdlets' -Name.
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    // An empty name reaches the name rules, so it fails as InvalidVmName like any other bad name.
    [AllowEmptyString]
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

    /// <summary>The guest's host name (first-boot seed); default: the VM's name.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? HostName { get; set; }

    /// <summary>OpenSSH public key lines for root (first-boot seed).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[] SshPublicKey { get; set; } = Array.Empty<string>();

    /// <summary>A file of public keys (such as ~/.ssh/id_ed25519.pub), one per line.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? SshPublicKeyPath { get; set; }

    /// <summary>A script run once as root at first boot; its output is on the console.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? UserData { get; set; }

    /// <summary>User network: the port on 127.0.0.1 forwarded to the guest's SSH (0 or absent with keys: a free one).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public int? SshPort { get; set; }

    /// <summary>The engine: qemu (default) or cloud-hypervisor (KVM hosts; no user-mode network, so its default network is None).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HypervisorNameCompleter))]
    public string Hypervisor { get; set; } = Core.Hypervisors.Qemu.QemuDriver.DriverName;

    /// <summary>
    /// -VmHost with several hosts places the VM on one: the reachable host with the most
    /// unallocated memory that has the image (and KVM when MYHV_ACCEL=kvm asks for it here).
    /// One host named pins it there.
    /// </summary>
    private protected override IReadOnlyList<Fleet.VmHostConnection> ChooseHosts(IReadOnlyList<Fleet.VmHostConnection> hosts, Fleet.FleetDispatch dispatch)
    {
        if (hosts.Count <= 1) return hosts;
        var survey = Fleet.VmHostSurvey.Ask(hosts, ThrottleLimit, Fleet.FleetDispatch.LocalVersion(this), CreateContext(), WriteVerbose);
        var accelerator = Environment.GetEnvironmentVariable(Core.Hypervisors.AcceleratorSelector.Variable)?.Trim().ToLowerInvariant();
        var choice = Fleet.VmPlacement.Choose(survey, MemoryMiB, Image, accelerator);
        if (choice.Host is null)
        {
            WriteVmError(new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{Name}' was not created: {choice.Why}", Name), Name);
            return Array.Empty<Fleet.VmHostConnection>();
        }
        WriteVerbose($"Placing VM '{Name}' on host '{choice.Host.Name}': {choice.Why}");
        return hosts.Where(h => h.Name == choice.Host.Name).ToList();
    }

    /// <summary>
    /// TCG's translation buffer in MiB (QEMU's tb-size): default 32, measured to boot as fast as
    /// QEMU's own default with less memory; 0 gives QEMU's own default. Unused under KVM.
    /// Not bound from the pipeline: Get-MyVm shows the effective value, which would pin the default.
    /// </summary>
    [Parameter]
    public int? TranslationCacheMiB { get; set; }

    /// <summary>
    /// A virtio balloon with free page reporting under TCG, so the guest hands memory it freed back
    /// to the host: default on; $false gives QEMU's default (no balloon). Unused under KVM.
    /// Not bound from the pipeline, for the same reason as TranslationCacheMiB.
    /// </summary>
    [Parameter]
    public bool? FreePageReporting { get; set; }

    protected override void ProcessLocalRecord()
    {
        // -Bridge alone means a bridged network; an explicit -Network still wins (and is validated).
        // Without either, the engine decides: one without a user-mode network (Cloud Hypervisor) gives none.
        var network = MyInvocation.BoundParameters.ContainsKey(nameof(Network)) ? Network
            : Bridge is not null ? NetworkMode.Bridge
            : Core.Hypervisors.HypervisorRules.DefaultNetwork(Hypervisor);
        try
        {
            var keys = SshPublicKey.ToList();
            if (SshPublicKeyPath is not null)
                keys.AddRange(Core.FirstBoot.FirstBootRules.ReadKeyFile(Name, SessionState.Path.GetUnresolvedProviderPathFromPSPath(SshPublicKeyPath)));
            var spec = new VmSpec
            {
                Name = Name, Image = ResolveImagePath(Image), Cpus = Cpus, MemoryMiB = MemoryMiB, Network = network,
                Bridge = Bridge, Address = IPAddress, Gateway = Gateway, Volumes = Volume, KernelArguments = KernelArguments,
                FirstBoot = new Core.FirstBoot.FirstBootSettings { HostName = HostName, SshPublicKeys = keys, UserData = UserData },
                SshPort = SshPort,
                Hypervisor = Hypervisor,
                TranslationCacheMiB = TranslationCacheMiB,
                FreePageReporting = FreePageReporting,
            };
            var definition = Manager.PlanNew(spec);
            var what = $"{definition.Cpus} CPU, {definition.MemoryMiB} MiB, image '{definition.Image}', network {definition.Network}, {definition.Hypervisor}";
            if (!ShouldProcess($"VM '{Name}' ({what})", "Create")) return;
            WriteObject(Manager.Create(definition, CreateContext()));
            WarnAboutMissingPrerequisites(definition);
        }
        catch (MyHvException e)
        {
            // The invocation's own values are wrong: nothing was created, and nothing can be for this input.
            ThrowVmError(e, Name);
        }
    }

    /// <summary>
    /// A relative image folder path (one with a '/') means relative to the PowerShell location, as
    /// for any cmdlet, not to the process's working directory, which PowerShell never changes.
    /// </summary>
    private string ResolveImagePath(string image) =>
        image.Contains('/') && !System.IO.Path.IsPathRooted(image)
            ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(image)
            : image;

    /// <summary>
    /// A definition needs no hypervisor, so New-MyVm succeeds without one; but the user learns now,
    /// not at Start-MyVm, that this host cannot run it yet, and where to look.
    /// </summary>
    private void WarnAboutMissingPrerequisites(VmDefinition definition)
    {
        var driver = Core.Lifecycle.VmManager.DriverFor(definition.Hypervisor);
        if (driver.FindExecutable() is null)
            WriteWarning($"VM '{definition.Name}' was created, but the {driver.Name} hypervisor is not installed, so Start-MyVm will fail " +
                "with PrerequisiteMissing. Run Test-MyVmHost to see what this host lacks and how to install it.");
        if (definition.Volumes.Count > 0 && Core.Volumes.VirtiofsdLauncher.Find() is null)
            WriteWarning($"VM '{definition.Name}' was created, but virtiofsd (needed for its volumes) is not installed. " +
                "Run Test-MyVmHost to see how to install it.");
    }
}
