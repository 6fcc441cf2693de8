using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// New-MyVmImage: builds an image from a recipe (<see cref="IImageRecipe"/>: Debian from packages,
/// or tiny) in a work folder next to its destination and renames it into place last.
/// </summary>
/// <remarks>
/// The transaction every recipe shares: the workdir step (image.workdir), the recipe's own steps
/// (each with its fail point image.&lt;step&gt;), manifest (image.manifest), then the rename. One
/// build per image name at a time (a lock file); a build that died is rolled back by the next.
/// </remarks>
public sealed class ImageBuilder
{
    public const string Activity = "Building image";
    public const string DiskFile = "rootfs.ext4";
    private readonly string imagesRoot;
    private readonly ImageUsage usage;

    /// <param name="imagesRoot">Where images are built (the per-user image folder).</param>
    public ImageBuilder(string imagesRoot, ImageUsage usage)
    {
        this.imagesRoot = Path.GetFullPath(imagesRoot);
        this.usage = usage;
    }

    public enum Outcome { Built, Cached, Linked }

    public sealed record Result(string Folder, Outcome Outcome, TimeSpan Elapsed);

    public Result Build(IImageRecipe recipe, bool force, OperationContext context)
    {
        recipe.Validate();
        var tools = recipe.CheckHost();
        var started = DateTime.UtcNow;
        var hash = recipe.Hash();
        var destination = Path.Combine(imagesRoot, recipe.Name);
        if (!force && IsCurrent(destination, hash)) return new Result(destination, Outcome.Cached, TimeSpan.Zero);

        EnsureFolder(imagesRoot);
        using var buildLock = BuildLock.Acquire(Path.Combine(imagesRoot, $".{recipe.Name}.lock"), recipe.Name, context);
        RecoverDeadBuilds(context);
        if (!force && IsCurrent(destination, hash)) return new Result(destination, Outcome.Cached, DateTime.UtcNow - started);
        if (Directory.Exists(destination) && !recipe.KeepsDiskOf(destination))
        {
            var users = usage.VmsUsing(destination);
            if (users.Count > 0)
                throw new MyHvException(MyHvErrorKind.VmBusy,
                    $"The image '{recipe.Name}' is used by VM(s) {string.Join(", ", users)}: their disks sit on its disk, so it cannot be rebuilt in place. Remove those VMs, or build under another name.");
        }

        var work = Path.Combine(imagesRoot, $".{recipe.Name}.build-{Guid.NewGuid():N}");
        var ledger = new BuildLedger(Path.Combine(imagesRoot, $".{recipe.Name}.journal"), work);
        try
        {
            var outcome = Run(recipe, hash, work, destination, tools, ledger, force, context);
            // Success: the work folder (with the previous image, when there was one) goes.
            ledger.BeginStep("cleanup");
            var report = ledger.Rollback();
            foreach (var leftover in report.Leftovers) context.Warning($"Image build left behind: {leftover}");
            context.Report(recipe.Name, Activity, "Done", 100);
            return new Result(destination, outcome, DateTime.UtcNow - started);
        }
        catch (Exception e)
        {
            var step = ledger.CurrentStep;
            var report = ledger.Rollback();
            context.Report(recipe.Name, Activity, "Failed", 100);
            if (e is OperationCanceledException) throw;
            var leftovers = report.Leftovers.Count == 0 ? "" : $" Left behind: {string.Join("; ", report.Leftovers)}.";
            if (e is MyHvException known)
                throw new MyHvException(known.Kind, $"{known.Message}{leftovers}", inner: e) { FailedStep = step, Leftovers = report.Leftovers };
            // The contract has no id of its own for a failed build: what it lacked (a package, a
            // mirror, space, a tool that failed) is a prerequisite of the build, named in the message.
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"Building the image '{recipe.Name}' failed at step '{step}': {e.Message}. Nothing of it was kept.{leftovers}", inner: e)
            { FailedStep = step, Leftovers = report.Leftovers };
        }
    }

    private Outcome Run(IImageRecipe recipe, string hash, string work, string destination,
        IReadOnlyDictionary<string, string> tools, BuildLedger ledger, bool force, OperationContext context)
    {
        ledger.BeginStep("workdir");
        ledger.Intend(new ArtifactRecord { Kind = ArtifactKind.Directory, Step = "workdir", Path = work });
        // 0755: mmdebstrap's unshared root must reach the new root file system inside it.
        Directory.CreateDirectory(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var staged = Path.Combine(work, "image");
        Directory.CreateDirectory(staged);
        BuildLedger.StepDone("workdir");

        // Same recipe under another name: link its files (instant), no rebuild.
        var twin = force ? null : FindTwin(hash, destination);
        if (twin is not null)
        {
            context.Say($"The recipe of '{recipe.Name}' was built before as {twin}: linking its files.");
            foreach (var file in Directory.EnumerateFiles(twin))
                if (Path.GetFileName(file) != "image.json")
                    LinkOrCopy(file, Path.Combine(staged, Path.GetFileName(file)));
            var manifestTwin = BuiltImageManifest.TryRead(twin)! with { Name = recipe.Name };
            File.WriteAllText(Path.Combine(staged, "image.json"), manifestTwin.ToJson());
            Commit(staged, destination, ledger);
            return Outcome.Linked;
        }

        var manifest = recipe.Produce(new ImageBuildRun(work, staged, destination, hash, ledger, tools, context));

        ledger.BeginStep("manifest");
        manifest = manifest with
        {
            RecipeHash = hash,
            Built = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            BuiltBy = "New-MyVmImage",
        };
        File.WriteAllText(Path.Combine(staged, "image.json"), manifest.ToJson());
        BuildLedger.StepDone("manifest");
        Commit(staged, destination, ledger);
        return Outcome.Built;
    }

    private static void Commit(string staged, string destination, BuildLedger ledger)
    {
        ledger.BeginStep("commit");
        // The image is world-readable (like /usr/share): VMs of every user may boot it.
        File.SetUnixFileMode(staged, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        foreach (var file in Directory.EnumerateFiles(staged))
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        DirectoryExchange.Install(staged, destination);
    }

    private static bool IsCurrent(string folder, string hash)
    {
        if (BuiltImageManifest.TryRead(folder)?.RecipeHash != hash) return false;
        try { return ImageCatalog.TryLoad(folder) is not null; }
        catch (MyHvException) { return false; }
    }

    /// <summary>Another complete image in the same folder built from the same recipe.</summary>
    private string? FindTwin(string hash, string destination)
    {
        foreach (var folder in Directory.EnumerateDirectories(imagesRoot))
        {
            if (Path.GetFileName(folder).StartsWith('.') || folder == destination) continue;
            if (IsCurrent(folder, hash)) return folder;
        }
        return null;
    }

    internal static void LinkOrCopy(string source, string target)
    {
        if (Mono.Unix.Native.Syscall.link(source, target) != 0) File.Copy(source, target);
    }

    /// <summary>Rolls back the ledgers of builds whose process died (any image name not being built now).</summary>
    private void RecoverDeadBuilds(OperationContext context)
    {
        foreach (var journal in Directory.EnumerateFiles(imagesRoot, ".*.journal"))
        {
            if (BuildLedger.OwnerAlive(journal)) continue;
            var report = BuildLedger.Recover(journal);
            if (report is null) continue;
            foreach (var removed in report.Removed) context.Say($"Rolled back an interrupted image build: {removed}");
            foreach (var leftover in report.Leftovers) context.Warning($"An interrupted image build left: {leftover}");
        }
    }

    internal static void EnsureFolder(string folder)
    {
        if (Directory.Exists(folder)) return;
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }
}
