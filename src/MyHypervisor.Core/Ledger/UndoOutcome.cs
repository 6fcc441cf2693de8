namespace MyHypervisor.Core.Ledger;

/// <summary>Refused: the record failed validation (<see cref="RecordScope"/>) and was not acted on.</summary>
public enum UndoResult { Removed, AlreadyGone, Kept, Failed, Refused }

/// <summary>What undoing one artifact did.</summary>
public sealed record UndoOutcome(ArtifactRecord Record, UndoResult Result, string? Problem = null)
{
    public override string ToString() => Result switch
    {
        UndoResult.Failed => $"{Record.Describe()}: could not remove ({Problem})",
        UndoResult.AlreadyGone => $"{Record.Describe()}: already gone",
        UndoResult.Refused => $"{Record.Describe()}: refused, not acted on ({Problem})",
        UndoResult.Kept => $"{Record.Describe()}: kept ({Problem})",
        _ => $"{Record.Describe()}: removed",
    };
}

/// <summary>The result of undoing a list of artifacts: what was removed and what could not be.</summary>
public sealed record RollbackReport(IReadOnlyList<UndoOutcome> Outcomes)
{
    /// <summary>What could not be removed, and records refused as untrustworthy: each is reported, none is forgotten.</summary>
    public IReadOnlyList<string> Leftovers =>
        Outcomes.Where(o => o.Result is UndoResult.Failed or UndoResult.Refused).Select(o => o.ToString()).ToList();

    /// <summary>The records to keep in the VM's state: failed undos (to retry) and refused records (to keep reporting).</summary>
    public IReadOnlyList<ArtifactRecord> Remaining =>
        Outcomes.Where(o => o.Result is UndoResult.Failed or UndoResult.Refused).Select(o => o.Record).ToList();

    public IReadOnlyList<string> Removed =>
        Outcomes.Where(o => o.Result == UndoResult.Removed).Select(o => o.Record.Describe()).ToList();
}
