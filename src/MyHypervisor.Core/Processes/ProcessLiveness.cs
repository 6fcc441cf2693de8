namespace MyHypervisor.Core.Processes;

/// <summary>Answers "is this still the process we started?" from /proc, never from a state file.</summary>
public static class ProcessLiveness
{
    /// <summary>Captures a live process's identity right after the module started it.</summary>
    public static ProcessIdentity? Identify(int pid)
    {
        var stat = ProcFs.ReadStat(pid);
        if (stat is null || stat.HasExited) return null;
        return new ProcessIdentity(pid, stat.StartTicks, ProcFs.BootId, ProcFs.ReadExecutable(pid));
    }

    /// <summary>
    /// True only when the pid is alive, started at the recorded tick of the recorded boot, and
    /// runs the recorded executable. Anything else is "not our process", and must not be touched.
    /// </summary>
    public static bool IsAlive(ProcessIdentity identity)
    {
        if (identity.BootId != ProcFs.BootId) return false;
        var stat = ProcFs.ReadStat(identity.Pid);
        if (stat is null || stat.StartTicks != identity.StartTicks) return false;
        // A thread-group leader shows 'Z' as soon as its own thread has exited, while the other
        // threads of a SIGKILLed or quitting QEMU may still be tearing down, holding its sockets,
        // its memory and its disk's lock: the process is gone only when no other thread is left.
        if (stat.HasExited && !ProcFs.HasOtherThreads(identity.Pid)) return false;
        if (identity.Executable is null) return true;
        var exe = ProcFs.ReadExecutable(identity.Pid);
        return exe is null || Path.GetFileName(exe) == Path.GetFileName(identity.Executable);
    }

    /// <summary>
    /// Live processes of <paramref name="program"/> (matched by executable file name, as
    /// <see cref="Identify"/> records it) that carry <paramref name="marker"/> as one whole
    /// argument (see <see cref="ProcessMarkers.Matches"/>): never a substring, so the marker of
    /// one home can never find a process of another home whose path merely ends with it. The
    /// executable is checked first: reading a command line waits for the owner's memory map lock,
    /// which busy processes (a loaded host) hold for milliseconds. An empty or relative marker
    /// finds nothing.
    /// </summary>
    public static IReadOnlyList<ProcessIdentity> FindByMarker(string marker, string? program)
    {
        var found = new List<ProcessIdentity>();
        if (ProcessMarkers.Problem(marker) is not null) return found;
        var programName = program is null ? null : Path.GetFileName(program);
        foreach (var pid in ProcFs.AllPids())
        {
            if (pid == Environment.ProcessId) continue;
            if (programName is not null && Path.GetFileName(ProcFs.ReadExecutable(pid)) != programName) continue;
            if (!CarriesMarker(pid, marker)) continue;
            if (Identify(pid) is { } identity) found.Add(identity);
        }
        return found;
    }

    /// <summary>True when the live process <paramref name="pid"/> has an argument that matches <paramref name="marker"/> as a whole.</summary>
    public static bool CarriesMarker(int pid, string marker) =>
        ProcFs.ReadArguments(pid) is { } arguments && arguments.Any(a => ProcessMarkers.Matches(marker, a));
}
