using System.Management.Automation;
using System.Management.Automation.Runspaces;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// Opens and closes a host's session with PowerShell's own remoting over SSH: New-PSSession
/// -HostName (pwsh is the sshd subsystem there), then Import-Module MyHypervisor in it and a
/// version check. The cmdlets compile against PowerShellStandard 5.1, which has no SSH connection
/// type, so New-PSSession runs as a command in the caller's runspace (a nested pipeline, which
/// must be on the pipeline thread) rather than through a hand-built connection.
/// </summary>
public static class VmHostSessions
{
    public const string ModuleName = "MyHypervisor";

    /// <summary>Opens (or reopens) the host's session; throws VmHostUnreachable or PrerequisiteMissing with the reason.</summary>
    public static void Open(VmHostConnection host, string localVersion)
    {
        Close(host);
        PSSession session;
        using (var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace))
        {
            ps.AddCommand("Microsoft.PowerShell.Core\\New-PSSession")
                .AddParameter("HostName", host.HostName)
                .AddParameter("Name", $"MyVmHost:{host.Name}")
                .AddParameter("ErrorAction", ActionPreference.Continue);
            if (host.UserName is not null) ps.AddParameter("UserName", host.UserName);
            if (host.Port is not null) ps.AddParameter("Port", host.Port.Value);
            if (host.KeyFilePath is not null) ps.AddParameter("KeyFilePath", host.KeyFilePath);
            if (host.SshOptions is not null) ps.AddParameter("Options", host.SshOptions);
            var result = ps.Invoke();
            session = result.Select(o => o.BaseObject).OfType<PSSession>().FirstOrDefault()
                ?? throw Unreachable(host, SshDiagnosis.Why(host) ?? $"SSH connection failed: {Reason(ps)}");
        }
        host.Session = session;
        try
        {
            var module = Run(host, "Import-Module", new() { ["Name"] = ModuleName, ["PassThru"] = true, ["ErrorAction"] = ActionPreference.Stop })
                .FirstOrDefault();
            var remoteVersion = module?.Properties["Version"]?.Value?.ToString();
            if (remoteVersion is null)
                throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                    $"VM host '{host.Name}' ({host.Address}) did not load the {ModuleName} module. Install it there (see Get-Help about_MyVmHost).");
            if (remoteVersion != localVersion)
                throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                    $"VM host '{host.Name}' ({host.Address}) has {ModuleName} {remoteVersion}, but this session has {localVersion}. " +
                    $"Install {ModuleName} {localVersion} there, so both ends agree on the objects they exchange.");
            host.ModuleVersion = remoteVersion;
        }
        catch (RuntimeException) when (!host.IsOpen)
        {
            var reason = BrokenReason(host);
            Close(host);
            throw Unreachable(host, $"the session dropped while the module was loaded: {reason}");
        }
        catch (RuntimeException e)
        {
            Close(host);
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"VM host '{host.Name}' ({host.Address}) cannot load the {ModuleName} module: {e.Message} Install it there (see Get-Help about_MyVmHost).");
        }
        catch
        {
            Close(host);
            throw;
        }
    }

    /// <summary>Ends the host's session (Remove-PSSession closes the SSH connection and the remote pwsh).</summary>
    public static void Close(VmHostConnection host)
    {
        var session = host.Session;
        host.Session = null;
        if (session is null) return;
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddCommand("Microsoft.PowerShell.Core\\Remove-PSSession").AddParameter("Session", session)
            .AddParameter("ErrorAction", ActionPreference.SilentlyContinue);
        ps.Invoke();
    }

    /// <summary>Runs one command in the host's session (any thread): its output, or its terminating error as RuntimeException.</summary>
    public static IReadOnlyList<PSObject> Run(VmHostConnection host, string command, Dictionary<string, object?> parameters)
    {
        host.Turn.Wait();
        try
        {
            using var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = host.Session!.Runspace;
            ps.AddCommand(command).AddParameters(parameters);
            return ps.Invoke();
        }
        finally
        {
            host.Turn.Release();
        }
    }

    public static MyHvException Unreachable(VmHostConnection host, string reason) =>
        new(MyHvErrorKind.VmHostUnreachable, $"VM host '{host.Name}' ({host.Address}) is unreachable: {reason}");

    /// <summary>What ssh or the transport said: the first error of the command, else a generic line.</summary>
    private static string Reason(System.Management.Automation.PowerShell ps)
    {
        var error = ps.Streams.Error.FirstOrDefault();
        return error is null ? "no session was opened" : OneLine(error.ToString());
    }

    public static string OneLine(string text) =>
        string.Join(" ", text.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));

    /// <summary>Why a session is no longer usable, from its runspace state.</summary>
    public static string BrokenReason(VmHostConnection host)
    {
        var info = host.Session?.Runspace.RunspaceStateInfo;
        return info?.Reason is { } e ? OneLine(e.Message) : $"the session is {info?.State.ToString() ?? "closed"}";
    }
}
