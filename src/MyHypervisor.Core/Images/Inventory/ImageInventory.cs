using System.Globalization;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images.Building;

namespace MyHypervisor.Core.Images.Inventory;

/// <summary>Get-MyVmImage and Remove-MyVmImage: the images in the search path, with what their image.json says.</summary>
public sealed class ImageInventory(MyHvPaths paths, ImageUsage usage)
{
    /// <summary>Every image found, first of a name wins (as -Image resolves it).</summary>
    public IReadOnlyList<ImageInfo> List()
    {
        var found = new Dictionary<string, ImageInfo>(StringComparer.Ordinal);
        foreach (var root in ImageSearchPath.Folders(paths).Where(Directory.Exists))
            foreach (var folder in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
            {
                if (Path.GetFileName(folder).StartsWith('.')) continue;
                GuestImage? image;
                try { image = ImageCatalog.TryLoad(folder); }
                catch (MyHvException) { continue; }   // incomplete or broken: not an image to list
                if (image is not null && !found.ContainsKey(image.Name)) found[image.Name] = Describe(image, root);
            }
        return found.Values.OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
    }

    private ImageInfo Describe(GuestImage image, string root)
    {
        var manifest = BuiltImageManifest.TryRead(image.Folder);
        DateTimeOffset? built = DateTimeOffset.TryParse(manifest?.Built, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal, out var b) ? b : null;
        return new ImageInfo
        {
            Name = image.Name,
            Path = image.Folder,
            FoundIn = root,
            KernelVersion = manifest?.KernelVersion,
            Distribution = manifest?.Distribution,
            SizeBytes = Directory.EnumerateFiles(image.Folder).Sum(AllocatedBytes),
            DiskBytes = new FileInfo(image.Disk).Length,
            Built = built ?? new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(image.Folder, "image.json"))),
            HasGuestAgent = manifest?.HasGuestAgent ?? false,
            HasSsh = manifest?.HasSsh ?? false,
            ReadsNoCloudSeed = manifest?.ReadsNoCloudSeed ?? false,
            RecipeHash = manifest?.RecipeHash,
            UsedBy = usage.VmsUsing(image.Folder),
        };
    }

    private static long AllocatedBytes(string file) =>
        Mono.Unix.Native.Syscall.stat(file, out var st) == 0 ? st.st_blocks * 512 : new FileInfo(file).Length;

    /// <summary>
    /// Deletes an image's folder: first renamed to a dot name (gone from the search path at once,
    /// so no VM can be defined on a half-deleted image), then deleted. Refused while VMs use it
    /// unless <paramref name="force"/> (their disks then have no base and cannot start).
    /// </summary>
    public void Remove(ImageInfo image, bool force)
    {
        var users = usage.VmsUsing(image.Path);
        if (users.Count > 0 && !force)
            throw new MyHvException(MyHvErrorKind.VmBusy,
                $"The image '{image.Name}' is used by VM(s) {string.Join(", ", users)}. Remove them first, or use -Force (they will not start again).");
        var parent = Path.GetDirectoryName(image.Path)!;
        var aside = Path.Combine(parent, $".{image.Name}.removing-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(image.Path, aside);
            Directory.Delete(aside, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing, $"Could not remove the image '{image.Name}' at {image.Path}: {e.Message}");
        }
    }
}
