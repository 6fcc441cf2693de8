using System.Diagnostics;
using System.Text;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Processes;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>
/// The NoCloud seed disk: a small FAT image labelled CIDATA holding meta-data and user-data, the
/// form cloud-init reads (and the module's Debian images read with their own first-boot unit).
/// Made with mkfs.vfat and mcopy (Debian packages dosfstools and mtools) from argument lists.
/// </summary>
public static class NoCloudSeed
{
    public const string Label = "CIDATA";
    public const string FileName = "seed.img";
    private const int SizeKiB = 1024;

    /// <summary>
    /// meta-data: instance-id (the VM's id: a new VM is a new instance, so its user-data runs once),
    /// local-hostname, and public-keys, which cloud-init's NoCloud datasource honours as well.
    /// Values are validated single lines; keys are single-quoted (they hold no quote).
    /// </summary>
    public static string MetaData(Guid instanceId, string hostName, IReadOnlyList<string> keys)
    {
        var text = new StringBuilder()
            .Append("instance-id: iid-").Append(instanceId.ToString("N")).Append('\n')
            .Append("local-hostname: ").Append(hostName).Append('\n');
        if (keys.Count > 0)
        {
            text.Append("public-keys:\n");
            foreach (var key in keys) text.Append("  - '").Append(key).Append("'\n");
        }
        return text.ToString();
    }

    /// <summary>user-data: the script as given; one without a #! line runs with /bin/sh.</summary>
    public static string UserData(string? script) =>
        script is null ? "" : script.StartsWith("#!", StringComparison.Ordinal) ? script : "#!/bin/sh\n" + script;

    /// <summary>Creates the seed image at <paramref name="path"/> (the caller recorded it first).</summary>
    public static void Create(string path, string metaData, string userData)
    {
        var mkfs = ProgramRunner.Find("mkfs.vfat") ?? throw Missing("mkfs.vfat", "dosfstools");
        var mcopy = ProgramRunner.Find("mcopy") ?? throw Missing("mcopy", "mtools");
        var folder = Path.GetDirectoryName(path)!;
        var staging = Path.Combine(folder, "seed-files");
        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var files = new List<string>();
            files.Add(Write(staging, "meta-data", metaData));
            if (userData.Length > 0) files.Add(Write(staging, "user-data", userData));
            Run(mkfs, new[] { "-C", "-n", Label, path, SizeKiB.ToString() });
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            foreach (var file in files)
                Run(mcopy, new[] { "-i", path, file, "::" + Path.GetFileName(file) });
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static string Write(string folder, string name, string content)
    {
        var target = Path.Combine(folder, name);
        using (var stream = new FileStream(target, new FileStreamOptions
               { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
            stream.Write(new UTF8Encoding(false).GetBytes(content));
        return target;
    }

    private static void Run(string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // mtools refuses images whose geometry it did not expect; this one is ours.
        info.Environment["MTOOLS_SKIP_CHECK"] = "1";
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(30_000)) { process.Kill(true); throw new TimeoutException($"{program} did not finish in 30 s"); }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new IOException($"{Path.GetFileName(program)} exited with {process.ExitCode}: {(stderr.Result + stdout.Result).Trim()}");
    }

    private static MyHvException Missing(string program, string package) =>
        new(MyHvErrorKind.PrerequisiteMissing,
            $"The first-boot seed disk needs '{program}' from the Debian package '{package}': apt-get install -y --no-install-recommends {package}");
}
