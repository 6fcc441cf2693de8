using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>What an image build needs on the host, checked before anything is created.</summary>
public static class BuildPrerequisites
{
    /// <summary>Fails with PrerequisiteMissing unless the process runs as root; <paramref name="why"/> says what needs it.</summary>
    public static void RequireRoot(string why)
    {
        if (Mono.Unix.Native.Syscall.geteuid() != 0)
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, $"Building an image needs root ({why}). Run pwsh as root, e.g. with sudo.");
    }

    /// <summary>Absolute paths of the programs (by the name given), in the order given; PrerequisiteMissing naming the package otherwise.</summary>
    public static IReadOnlyDictionary<string, string> Find(IEnumerable<(string Program, string Package)> programs)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (program, package) in programs)
            found[program] = ProgramRunner.Find(program) ?? throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"Building an image needs '{program}' from the Debian package '{package}': apt-get install -y --no-install-recommends {package}");
        return found;
    }
}
