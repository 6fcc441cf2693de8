using System.Diagnostics;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// Runs mmdebstrap for a recipe into a directory: unshare mode, so every mount it makes lives in
/// its own mount namespace and dies with it (nothing can stay mounted on the host), under
/// setpriv --pdeathsig KILL and in a PID namespace of its own (unshare --pid --kill-child), so it and
/// every process it started die with the process that runs the build. Its command line
/// carries the build's work folder, the marker by which a later build finds and ends it.
/// </summary>
internal static class RootFsBuilder
{
    /// <summary>mmdebstrap's phases as it names them on stderr, with a rough share of the whole build.</summary>
    private static readonly (string Text, int Percent)[] Phases =
    {
        ("running apt-get update", 5), ("downloading packages", 10), ("extracting archives", 25),
        ("installing essential packages", 35), ("installing remaining packages", 50),
        ("running --customize-hook", 70), ("cleaning package lists", 75), ("success", 78),
    };

    public static void Run(DebianImageRecipe recipe, IReadOnlyDictionary<string, string> tools, string hookDir, string target,
        BuildLedger ledger, OperationContext context, string activity)
    {
        var args = new List<string>
        {
            // The command's death ends the whole build: setpriv gives unshare a parent-death
            // SIGKILL; unshare makes mmdebstrap the first process of a new PID namespace and kills
            // it when unshare dies (--kill-child), and the kernel then ends every process in that
            // namespace (mmdebstrap's forks, dpkg, tar), which pdeathsig alone does not reach.
            "--pdeathsig", "KILL", "--", tools["unshare"], "--pid", "--fork", "--kill-child", "--", tools["mmdebstrap"],
            "--mode=unshare", "--variant=apt",
            "--include=" + string.Join(',', recipe.AllPackages),
            "--hook-dir=" + hookDir,
            recipe.Distribution, target,
        };
        var record = ledger.Intend(new ArtifactRecord
        {
            // A folder marker: mmdebstrap's target (<work>/root) sits directly in the work folder; matched
            // as a whole argument, never as a substring (ProcessMarkers).
            Kind = ArtifactKind.Process, Step = "rootfs", Marker = ledger.WorkFolder + "/", Program = null,
        });
        var info = new ProcessStartInfo(tools["setpriv"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["LC_ALL"] = "C.UTF-8";
        context.Say($"setpriv {string.Join(' ', args)}");
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start mmdebstrap");
        var identity = ProcessLiveness.Identify(process.Id);
        if (identity is not null) ledger.Update(record with { Process = identity });
        process.StandardInput.Close();
        var tail = new Queue<string>();
        var percent = 2;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (tail)
            {
                tail.Enqueue(e.Data);
                if (tail.Count > 30) tail.Dequeue();
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var started = DateTime.UtcNow;
        while (!process.WaitForExit(500))
        {
            // Ctrl+C: the rollback ends mmdebstrap and its children by the marker (SIGTERM, then
            // SIGKILL); the pid alone would not do, as setpriv became unshare, whose child is mmdebstrap.
            context.Cancel.ThrowIfCancellationRequested();
            string last;
            lock (tail) last = tail.LastOrDefault() ?? "";
            foreach (var (text, p) in Phases)
                if (last.Contains(text, StringComparison.Ordinal) && p > percent) percent = p;
            context.Report(recipe.Name, activity,
                $"mmdebstrap {recipe.Distribution} ({(int)(DateTime.UtcNow - started).TotalSeconds} s): {Trim(last)}", percent);
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            string text;
            lock (tail) text = string.Join("\n", tail);
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"mmdebstrap failed (exit {process.ExitCode}) building '{recipe.Name}'. Its last lines:\n{text}");
        }
    }

    private static string Trim(string line) => line.Length > 80 ? line[..80] : line;
}
