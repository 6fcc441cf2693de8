using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// Runs one host program of an image build with an argument list (never a shell string): its
/// stdin from a string, its stdout returned or streamed into a file (gzipped on request), and a
/// non-zero exit turned into an IOException carrying its output.
/// </summary>
internal static class BuildTool
{
    public sealed record Options
    {
        public string? Stdin { get; init; }
        /// <summary>Stdout goes here instead of being returned.</summary>
        public string? StdoutFile { get; init; }
        /// <summary>Gzip what goes into <see cref="StdoutFile"/> (no timestamp in the header: reproducible).</summary>
        public bool Gzip { get; init; }
        public string? WorkingDirectory { get; init; }
        public IReadOnlyDictionary<string, string>? Environment { get; init; }
        public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);
    }

    private static readonly Options Plain = new();

    public static string Run(string program, IEnumerable<string> args, Options? options = null)
    {
        options ??= Plain;
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (options.WorkingDirectory is not null) info.WorkingDirectory = options.WorkingDirectory;
        foreach (var (k, v) in options.Environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        info.Environment["LC_ALL"] = "C.UTF-8";
        using var process = Process.Start(info) ?? throw new IOException($"could not start {program}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdin = Task.Run(() =>
        {
            try
            {
                if (options.Stdin is not null) process.StandardInput.BaseStream.Write(Encoding.UTF8.GetBytes(options.Stdin));
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program exited without reading all of it: its exit code says why.
            }
        });
        string stdout = "";
        if (options.StdoutFile is not null)
        {
            using var file = new FileStream(options.StdoutFile, FileMode.CreateNew, FileAccess.Write);
            using (Stream sink = options.Gzip ? new GZipStream(file, CompressionLevel.SmallestSize, leaveOpen: true) : file)
                process.StandardOutput.BaseStream.CopyTo(sink);
        }
        else
        {
            stdout = process.StandardOutput.ReadToEnd();
        }
        if (!process.WaitForExit(options.Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new IOException($"{Path.GetFileName(program)} did not finish within {options.Timeout.TotalMinutes:0} minutes");
        }
        process.WaitForExit();
        stdin.Wait();
        if (process.ExitCode != 0)
            throw new IOException($"{Path.GetFileName(program)} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {(stderr.Result + stdout).Trim()}");
        return stdout;
    }
}
