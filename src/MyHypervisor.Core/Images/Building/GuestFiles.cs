using System.Reflection;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// The files an image build adds to the guest, embedded in this assembly: <see cref="Debian"/>
/// (source Images/Building/Guest: mmdebstrap hooks at the top, the guest's own files under
/// rootfs/) and <see cref="Tiny"/> (source Images/Building/TinyGuest: the initramfs's /init and
/// its files, laid out as in the guest).
/// </summary>
public sealed class GuestFiles
{
    public sealed record GuestFile(string Path, byte[] Content)
    {
        /// <summary>Scripts (#!) are executable, everything else plain.</summary>
        public bool IsScript => Content.Length > 2 && Content[0] == '#' && Content[1] == '!';
    }

    public static readonly GuestFiles Debian = new("guest/");
    public static readonly GuestFiles Tiny = new("tiny/");

    private readonly string prefix;
    private readonly Lazy<IReadOnlyList<GuestFile>> files;

    private GuestFiles(string prefix)
    {
        this.prefix = prefix;
        files = new Lazy<IReadOnlyList<GuestFile>>(Load);
    }

    public IReadOnlyList<GuestFile> All() => files.Value;

    /// <summary>A recipe hash: sha256 (hex) over the recipe's own lines and then each file's path and sha256.</summary>
    public string HashWith(System.Text.StringBuilder recipe)
    {
        foreach (var file in All())
            recipe.Append("file ").Append(file.Path).Append(' ').Append(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(file.Content))).Append('\n');
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(recipe.ToString()))).ToLowerInvariant();
    }

    /// <summary>Writes the files under <paramref name="folder"/> (the mmdebstrap hook directory, or the initramfs root).</summary>
    public void WriteTo(string folder)
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

    private IReadOnlyList<GuestFile> Load()
    {
        var assembly = typeof(GuestFiles).Assembly;
        var list = new List<GuestFile>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            // MSBuild writes RecursiveDir with the platform's separator.
            list.Add(new GuestFile(name[prefix.Length..].Replace('\\', '/'), memory.ToArray()));
        }
        return list;
    }
}
