namespace MyHypervisor.Core.Ledger;

public enum UndoResult { Removed, AlreadyGone, Kept, Failed }

/// <summary>What undoing one artifact did.</summary>
public sealed record UndoOutcome(ArtifactRecord Record, UndoResult Result, string? Problem = null)
{
    public override string ToString() => Result switch
    {
        UndoResult.Failed => $"{Record.Describe()}: could not remove ({Problem})",
        UndoResult.AlreadyGone => $"{Record.Describe()}: already gone",
        UndoResult.Kept => $"{Record.Describe()}: kept ({Problem})",
        _ => $"{Record.Describe()}: removed",
    };
}

/// <summary>The result of undoing a list of artifacts: what was removed and what could not be.</summary>
public sealed record RollbackReport(IReadOnlyList<UndoOutcome> Outcomes)
{
    public IReadOnlyList<string> Leftovers =>
        Outcomes.Where(o => o.Result == UndoResult.Failed).Select(o => o.ToString()).ToList();

    public IReadOnlyList<string> Removed =>
        Outcomes.Where(o => o.Result == UndoResult.Removed).Select(o => o.Record.Describe()).ToList();
}
