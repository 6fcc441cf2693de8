namespace MyHypervisor.Core.Configuration;

/// <summary>
/// Where the module keeps everything. With MYHV_HOME set, every persisted and runtime artifact
/// lives under it (the contract); otherwise under the XDG state directory.
/// </summary>
public sealed class MyHvPaths
{
    public MyHvPaths(string home) => Home = Path.GetFullPath(home);

    /// <summary>The state root: MYHV_HOME, else $XDG_STATE_HOME/myhypervisor, else ~/.local/state/myhypervisor.</summary>
    public static MyHvPaths FromEnvironment()
    {
        var home = Environment.GetEnvironmentVariable("MYHV_HOME");
        if (string.IsNullOrWhiteSpace(home))
        {
            var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
            if (string.IsNullOrWhiteSpace(state))
                state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
            home = Path.Combine(state, "myhypervisor");
        }
        return new MyHvPaths(home);
    }

    public string Home { get; }
    public string VmsRoot => Path.Combine(Home, "vms");
    public string RuntimeRoot => Path.Combine(Home, "run");
    public string LocksRoot => Path.Combine(Home, "locks");
    public string CacheRoot => Path.Combine(Home, "cache");

    public string VmDirectory(string name) => Path.Combine(VmsRoot, name);
    public string DefinitionFile(string name) => Path.Combine(VmDirectory(name), "definition.json");
    public string StateFile(string name) => Path.Combine(VmDirectory(name), "state.json");
    public string JournalFile(string name) => Path.Combine(VmDirectory(name), "start.journal");
    public string OverlayFile(string name) => Path.Combine(VmDirectory(name), "disk.qcow2");
    public string ConsoleLog(string name) => Path.Combine(VmDirectory(name), "console.log");
    public string LockFile(string name) => Path.Combine(LocksRoot, name + ".lock");

    /// <summary>Sockets and pid files of one run. Kept short: unix socket paths are limited to 107 bytes.</summary>
    public string RuntimeDirectory(string name) => Path.Combine(RuntimeRoot, name);
    public string ApiSocket(string name) => Path.Combine(RuntimeDirectory(name), "api.sock");
    public string PidFile(string name) => Path.Combine(RuntimeDirectory(name), "hypervisor.pid");
    public string ChannelSocket(string name) => Path.Combine(RuntimeDirectory(name), "channel.sock");
    /// <summary>The host end of the guest agent's virtio-serial port (org.qemu.guest_agent.0).</summary>
    public string AgentSocket(string name) => Path.Combine(RuntimeDirectory(name), "agent.sock");
    /// <summary>The serial console's line, offered by the hypervisor for an interactive session (the log is kept as well).</summary>
    public string ConsoleSocket(string name) => Path.Combine(RuntimeDirectory(name), "console.sock");
    /// <summary>Held (flock) by the one interactive console session of a run (Connect-MyVmConsole).</summary>
    public string ConsoleLock(string name) => Path.Combine(RuntimeDirectory(name), "console.lock");
    /// <summary>Cloud Hypervisor's hybrid vsock socket (the guest channel on that engine).</summary>
    public string VsockSocket(string name) => Path.Combine(RuntimeDirectory(name), "vsock.sock");
    public string VolumeSocket(string name, string tag) => Path.Combine(RuntimeDirectory(name), $"fs-{tag}.sock");

    /// <summary>
    /// The marker of every helper and hypervisor process of this VM: each carries a path directly
    /// in the runtime folder as a whole argument (see <see cref="Processes.ProcessMarkers"/>).
    /// Finding processes by it is how cleanup recovers from a crash that lost their pids.
    /// </summary>
    public string ProcessMarker(string name) => RuntimeDirectory(name) + "/";

    /// <summary>
    /// Creates a directory readable by its owner only (sockets and state are not world-readable),
    /// and each missing parent the same way: Directory.CreateDirectory gives the mode to the last
    /// level only and creates the parents 0777 less the umask (that made cache/ 0755).
    /// </summary>
    public static void EnsurePrivateDirectory(string path)
    {
        if (Directory.Exists(path)) return;
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full);
        if (parent is not null && !Directory.Exists(parent)) EnsurePrivateDirectory(parent);
        Storage.StateWrite.Guard(full, () =>
            Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
    }
}
