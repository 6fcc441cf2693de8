using System.Reflection;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// The files an image build adds to the guest, embedded in this assembly (source:
/// Images/Building/Guest): mmdebstrap hooks at the top, the guest's own files under rootfs/.
/// </summary>
public static class GuestFiles
{
    public sealed record GuestFile(string Path, byte[] Content)
    {
        /// <summary>Scripts (#!) are executable, everything else plain.</summary>
        public bool IsScript => Content.Length > 2 && Content[0] == '#' && Content[1] == '!';
    }

    private const string Prefix = "guest/";
    private static readonly Lazy<IReadOnlyList<GuestFile>> Files = new(Load);

    public static IReadOnlyList<GuestFile> All() => Files.Value;

    /// <summary>Writes the files under <paramref name="folder"/> (the mmdebstrap hook directory).</summary>
    public static void WriteTo(string folder)
    {
        const UnixFileMode Exec = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        const UnixFileMode Plain = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        foreach (var file in All())
        {
            var target = Path.Combine(folder, file.Path);
            var dir = Path.GetDirectoryName(target)!;
            Directory.CreateDirectory(dir, Exec);
            File.WriteAllBytes(target, file.Content);
            File.SetUnixFileMode(target, file.IsScript ? Exec : Plain);
        }
        // The guest's folders are world-readable (they are copied into the image as they are).
        foreach (var dir in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(dir, Exec);
    }

    private static IReadOnlyList<GuestFile> Load()
    {
        var assembly = typeof(GuestFiles).Assembly;
        var list = new List<GuestFile>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            // MSBuild writes RecursiveDir with the platform's separator.
            list.Add(new GuestFile(name[Prefix.Length..].Replace('\\', '/'), memory.ToArray()));
        }
        return list;
    }
}
