using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>What an image build needs on the host, checked before anything is created.</summary>
public static class BuildPrerequisites
{
    /// <summary>(program, Debian package) pairs, in the order they are checked.</summary>
    public static readonly IReadOnlyList<(string Program, string Package)> Programs = new[]
    {
        ("mmdebstrap", "mmdebstrap"),
        ("mkfs.ext4", "e2fsprogs"),
        ("setpriv", "util-linux"),
        ("unshare", "util-linux"),
    };

    /// <summary>Absolute paths of the programs, by name; PrerequisiteMissing naming root or the package otherwise.</summary>
    public static IReadOnlyDictionary<string, string> Check()
    {
        if (Mono.Unix.Native.Syscall.geteuid() != 0)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                "Building an image needs root (mmdebstrap installs packages as root into the new file system). Run pwsh as root, e.g. with sudo.");
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (program, package) in Programs)
            found[program] = ProgramRunner.Find(program) ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"Building an image needs '{program}' from the Debian package '{package}': apt-get install -y --no-install-recommends {package}");
        return found;
    }
}
