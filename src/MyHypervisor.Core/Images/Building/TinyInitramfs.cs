using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// The tiny image's initramfs: a gzipped newc cpio of static busybox (its applet links are made
/// by /init at boot), the kernel modules /init loads, qemu-ga with the libraries ldd resolves and
/// the dynamic loader (at their host paths), and the guest files. Sorted entries, owner root,
/// renumbered inodes, fixed times and a gzip header without a timestamp: reproducible.
/// </summary>
internal static partial class TinyInitramfs
{
    private const UnixFileMode Exec = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const UnixFileMode Plain = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static void Make(string kernelRoot, string kernelVersion, string staging, string outFile,
        IReadOnlyDictionary<string, string> tools, long fixedEpoch, Action<string> say)
    {
        foreach (var d in new[] { "bin", "sbin", "dev", "proc", "sys", "run", "tmp", "mnt", "data", "etc", "lib/modules", "usr/bin", "usr/sbin" })
            Directory.CreateDirectory(Path.Combine(staging, d));
        var busybox = tools["/bin/busybox"];
        File.Copy(busybox, Path.Combine(staging, "bin/busybox"));
        CopyGuestAgent(tools, staging);
        CopyModules(kernelRoot, kernelVersion, staging, tools, say);
        GuestFiles.Tiny.WriteTo(staging);
        SetModes(staging);
        FixedTimes.Apply(staging, fixedEpoch);

        var entries = Directory.EnumerateFileSystemEntries(staging, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(staging, p)).Order(StringComparer.Ordinal);
        var list = string.Join('\n', new[] { "." }.Concat(entries)) + "\n";
        BuildTool.Run(busybox, new[] { "cpio", "-o", "-H", "newc", "-R", "0:0", "--renumber-inodes", "--ignore-devno" },
            new BuildTool.Options { WorkingDirectory = staging, Stdin = list, StdoutFile = outFile, Gzip = true });
    }

    /// <summary>qemu-ga links glib and friends: each library ldd resolves (the file, under the path the loader looks for) and the loader.</summary>
    private static void CopyGuestAgent(IReadOnlyDictionary<string, string> tools, string staging)
    {
        var agent = tools["/usr/sbin/qemu-ga"];
        File.Copy(agent, Path.Combine(staging, "usr/sbin/qemu-ga"));
        foreach (var line in BuildTool.Run(tools["ldd"], new[] { agent }).Split('\n'))
        {
            var match = LddPath().Match(line);
            if (!match.Success) continue;   // linux-vdso: provided by the kernel
            var path = match.Groups["p"].Value;
            var source = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            var target = Path.Combine(staging, path.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
        }
    }

    private static void CopyModules(string kernelRoot, string kernelVersion, string staging,
        IReadOnlyDictionary<string, string> tools, Action<string> say)
    {
        var moduleDir = new[] { "lib", "usr/lib" }.Select(d => Path.Combine(kernelRoot, d, "modules", kernelVersion))
            .FirstOrDefault(Directory.Exists) ?? throw new IOException($"no modules for {kernelVersion} in the kernel package");
        var available = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(moduleDir, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file);
            var module = ModuleName().Match(name);
            if (module.Success) available[module.Groups["m"].Value.Replace('-', '_')] = file;
        }
        foreach (var m in TinyImageRecipe.Modules)
        {
            if (!available.TryGetValue(m, out var source)) { say($"module {m} is not in the package (built in?), skipped"); continue; }
            CopyModule(source, Path.Combine(staging, "lib/modules", m + ".ko"), tools);
        }
    }

    /// <summary>Modules may ship compressed (.ko.xz / .ko.zst / .ko.gz); busybox insmod wants them plain.</summary>
    private static void CopyModule(string source, string target, IReadOnlyDictionary<string, string> tools)
    {
        if (source.EndsWith(".ko", StringComparison.Ordinal)) { File.Copy(source, target, overwrite: true); return; }
        if (source.EndsWith(".ko.xz", StringComparison.Ordinal))
        {
            BuildTool.Run(tools["/bin/busybox"], new[] { "xz", "-dc", source }, new BuildTool.Options { StdoutFile = target });
            return;
        }
        if (source.EndsWith(".ko.zst", StringComparison.Ordinal))
        {
            var zstd = Processes.ProgramRunner.Find("zstd") ?? throw new IOException($"{source} is zstd-compressed: install the Debian package zstd");
            BuildTool.Run(zstd, new[] { "-q", "-d", "-c", source }, new BuildTool.Options { StdoutFile = target });
            return;
        }
        using var input = new GZipStream(File.OpenRead(source), CompressionMode.Decompress);
        using var output = File.Create(target);
        input.CopyTo(output);
    }

    /// <summary>'#!' scripts and ELF files (the agent, its loader and libraries) are executable, the rest plain; /tmp is 1777.</summary>
    private static void SetModes(string staging)
    {
        Span<byte> head = stackalloc byte[2];
        foreach (var file in Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories))
        {
            int read;
            using (var s = File.OpenRead(file)) read = s.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            var program = read == 2 && ((head[0] == (byte)'#' && head[1] == (byte)'!') || (head[0] == 0x7f && head[1] == (byte)'E'));
            File.SetUnixFileMode(file, program ? Exec : Plain);
        }
        foreach (var dir in Directory.EnumerateDirectories(staging, "*", SearchOption.AllDirectories)) File.SetUnixFileMode(dir, Exec);
        File.SetUnixFileMode(staging, Exec);
        File.SetUnixFileMode(Path.Combine(staging, "tmp"), Exec | UnixFileMode.StickyBit | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
    }

    [GeneratedRegex(@"=>\s*(?<p>/\S+)|^\s*(?<p>/\S+)")]
    private static partial Regex LddPath();

    [GeneratedRegex(@"^(?<m>.+)\.ko(\.(xz|zst|gz))?$")]
    private static partial Regex ModuleName();
}
