using Mono.Unix.Native;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Configuration;

/// <summary>
/// Checks the state root the way ssh checks ~/.ssh before it trusts anything in it: the module
/// executes what its records say (ends processes, deletes paths), so a home another user can
/// write to (a folder under /tmp made 0777 by someone else) would let them plant records that
/// this user then acts on. The home must be owned by the current user and not be writable by
/// group or others; each parent up to a sticky folder (such as /tmp) or a safe root-owned one
/// must be owned by the user or root and not writable by group or others, so that no one else
/// can rename the home away and put their own in its place. A home that does not exist yet is
/// judged by the parents it will be created in (it is then made 0700).
/// </summary>
public static class StateHomeGuard
{
    private const FilePermissions GroupOrOtherWrite = FilePermissions.S_IWGRP | FilePermissions.S_IWOTH;

    /// <summary>Throws PrerequisiteMissing naming the path and the fix; returns when the home is safe.</summary>
    public static void Check(string home)
    {
        if (Problem(home) is { } problem)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, problem);
    }

    /// <summary>Null when the home is safe, else the problem with the fix.</summary>
    public static string? Problem(string home)
    {
        if (PathRules.Problem(home) is { } pathProblem)
            return $"MYHV_HOME '{home.ReplaceLineEndings("\\n")}' cannot be used: {pathProblem}. Fix: point MYHV_HOME at a plain folder of your own.";
        var uid = Syscall.geteuid();
        string current;
        try { current = Volumes.BindMounts.Canonical(home); }
        catch (IOException e) { return $"MYHV_HOME '{home}' cannot be resolved ({e.Message}). Fix: point MYHV_HOME at a folder of your own."; }
        var first = true;
        while (true)
        {
            if (Syscall.stat(current, out var st) == 0)
            {
                var mode = (FilePermissions)st.st_mode;
                var octal = Convert.ToString((int)st.st_mode & 0xFFF, 8).PadLeft(4, '0');
                if ((mode & FilePermissions.S_IFMT) != FilePermissions.S_IFDIR)
                    return $"MYHV_HOME '{home}': '{current}' is not a directory. Fix: point MYHV_HOME at a folder of your own.";
                if (first)
                {
                    if (st.st_uid != uid)
                        return $"MYHV_HOME '{current}' is owned by uid {st.st_uid}, not by you (uid {uid}): another user could plant records that this module acts on. " +
                            $"Fix: use a folder of your own (unset MYHV_HOME for the default ~/.local/state/myhypervisor), or, if the folder is yours to take, 'chown {uid} {current}' as root.";
                    if ((mode & GroupOrOtherWrite) != 0)
                        return $"MYHV_HOME '{current}' is writable by group or others (mode {octal}). Fix: chmod 700 '{current}'.";
                    first = false;
                }
                else
                {
                    // A sticky folder (/tmp): others may create entries but not rename or delete ours.
                    if ((mode & FilePermissions.S_ISVTX) != 0) return null;
                    if (st.st_uid != uid && st.st_uid != 0)
                        return $"MYHV_HOME '{home}' lies in '{current}', which is owned by uid {st.st_uid} (neither you, uid {uid}, nor root): its owner could replace the home. " +
                            "Fix: put MYHV_HOME in a folder owned by you or root.";
                    if ((mode & GroupOrOtherWrite) != 0)
                        return $"MYHV_HOME '{home}' lies in '{current}', which is writable by group or others (mode {octal}) without the sticky bit: anyone could replace the home. " +
                            $"Fix: chmod go-w '{current}', or put MYHV_HOME elsewhere.";
                    // A root-owned folder that only root can write: nothing above it is anyone else's to change.
                    if (st.st_uid == 0) return null;
                }
            }
            else
            {
                var errno = Stdlib.GetLastError();
                if (errno != Errno.ENOENT)
                    return $"MYHV_HOME '{home}': cannot inspect '{current}' ({errno}). Fix: point MYHV_HOME at a folder you can use.";
                first = false; // not there yet: it will be created 0700, so its parents decide
            }
            if (current == "/") return null;
            current = Path.GetDirectoryName(current) ?? "/";
        }
    }
}
