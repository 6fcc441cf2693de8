using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.Core.Images.Building;

/// <summary>What a recipe's build steps work with: its folders, ledger, host programs and the caller's context.</summary>
public sealed class ImageBuildRun
{
    internal ImageBuildRun(string work, string staged, string destination, string hash, BuildLedger ledger,
        IReadOnlyDictionary<string, string> tools, OperationContext context)
    {
        Work = work; Staged = staged; Destination = destination; Hash = hash; Ledger = ledger; Tools = tools; Context = context;
    }

    /// <summary>The work folder (a ledger artifact: everything in it goes at the end).</summary>
    public string Work { get; }
    /// <summary>The image folder being made (inside <see cref="Work"/>), renamed into place at commit.</summary>
    public string Staged { get; }
    /// <summary>Where the image will be; it may hold the previous image until the commit.</summary>
    public string Destination { get; }
    public string Hash { get; }
    internal BuildLedger Ledger { get; }
    public IReadOnlyDictionary<string, string> Tools { get; }
    public OperationContext Context { get; }

    /// <summary>Marks the step on the ledger (the step a failure names).</summary>
    public void Begin(string step) => Ledger.BeginStep(step);

    /// <summary>The step's artifacts exist: its fail point image.&lt;step&gt; fires.</summary>
    public static void Done(string step) => BuildLedger.StepDone(step);

    public void Progress(string name, string status, int percent) => Context.Report(name, ImageBuilder.Activity, status, percent);
}
