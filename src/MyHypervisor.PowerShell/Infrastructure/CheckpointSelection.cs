using System.Management.Automation;
using MyHypervisor.Core.Checkpoints;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>
/// -CheckpointName for Get- and Remove-MyVmCheckpoint: wildcards match a VM's checkpoints (no match
/// is no error); a literal name is checked by the name rules and must exist (else InvalidVmSpec).
/// </summary>
internal static class CheckpointSelection
{
    public static IEnumerable<CheckpointInfo> Select(string vm, IReadOnlyList<CheckpointInfo> checkpoints, IEnumerable<string> patterns,
        Action<MyHvException, object?> error)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pattern in patterns)
        {
            if (WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
                foreach (var match in checkpoints.Where(c => wildcard.IsMatch(c.CheckpointName)))
                    if (seen.Add(match.CheckpointName)) yield return match;
                continue;
            }
            if (CheckpointNameRules.Problem(pattern) is { } problem)
            {
                error(new MyHvException(MyHvErrorKind.InvalidVmSpec, $"'{CheckpointNameRules.Printable(pattern)}' is not a valid checkpoint name: {problem}.", vm), pattern);
                continue;
            }
            var found = checkpoints.FirstOrDefault(c => c.CheckpointName == pattern);
            if (found is null)
            {
                error(new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{vm}' has no checkpoint named '{pattern}'. Get-MyVmCheckpoint -Name {vm} lists them.", vm), pattern);
                continue;
            }
            if (seen.Add(found.CheckpointName)) yield return found;
        }
    }
}
