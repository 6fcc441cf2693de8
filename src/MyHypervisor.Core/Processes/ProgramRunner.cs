using System.Diagnostics;

namespace MyHypervisor.Core.Processes;

/// <summary>Runs a program to completion with an argument list (never a shell string) and captures its output.</summary>
public static class ProgramRunner
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError)
    {
        public string Describe() => string.IsNullOrWhiteSpace(StandardError) ? StandardOutput.Trim() : StandardError.Trim();
    }

    /// <param name="environment">Variables added to the program's environment (an owner's mark, see Orphans.OwnerMark).</param>
    public static Result Run(string program, IEnumerable<string> arguments, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (variable, value) in environment) info.Environment[variable] = value;
        using var process = PrivateUmask.Run(() => Process.Start(info)) ?? throw new InvalidOperationException($"could not start {program}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Finds a program on PATH (or returns the absolute path given, if it exists).</summary>
    public static string? Find(string name)
    {
        if (name.Contains('/')) return File.Exists(name) ? name : null;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(new[] { "/usr/sbin", "/sbin" }))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
