namespace CloudHypervisorStandIn;

/// <summary>
/// Fault switches, from the environment variable CH_STAND_IN_FAULTS (comma-separated), so a test
/// can make the VMM misbehave as a real one might:
/// <c>refuse-boot</c> (vm.boot answers 500 with CH's error chain), <c>hang-ping</c> (vmm.ping
/// never answers), <c>die-at-boot</c> (SIGKILL at vm.boot: the socket stays, as after a crash),
/// <c>error-500:&lt;endpoint&gt;</c> (that endpoint answers 500 with a body),
/// <c>ignore-power-button</c> (the guest does not act on ACPI).
/// </summary>
public sealed record Faults(bool RefuseBoot, bool HangPing, bool DieAtBoot, bool IgnorePowerButton, IReadOnlySet<string> Error500)
{
    public const string Variable = "CH_STAND_IN_FAULTS";

    public static Faults FromEnvironment()
    {
        var items = (Environment.GetEnvironmentVariable(Variable) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error500 = new HashSet<string>(StringComparer.Ordinal);
        bool refuse = false, hang = false, die = false, ignore = false;
        foreach (var item in items)
        {
            switch (item)
            {
                case "refuse-boot": refuse = true; break;
                case "hang-ping": hang = true; break;
                case "die-at-boot": die = true; break;
                case "ignore-power-button": ignore = true; break;
                default:
                    if (item.StartsWith("error-500:", StringComparison.Ordinal)) error500.Add(item["error-500:".Length..]);
                    else throw new UsageException($"{Variable}: unknown fault '{item}'", 1);
                    break;
            }
        }
        return new Faults(refuse, hang, die, ignore, error500);
    }
}
