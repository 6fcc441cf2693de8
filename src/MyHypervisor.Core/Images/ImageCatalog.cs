using System.Text.Json;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Images;

/// <summary>Finds guest images by name (in the search path) or by folder path, and lists the known ones.</summary>
public sealed class ImageCatalog(MyHvPaths paths)
{
    private const string Manifest = "image.json";

    /// <summary>Resolves -Image: a path to an image folder or its image.json, else a name in the search path.</summary>
    public GuestImage Resolve(string nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath))
            throw new MyHvException(MyHvErrorKind.ImageNotFound, "No image was named.");
        if (Vms.PathRules.Problem(nameOrPath) is { } pathProblem)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"The image '{nameOrPath.ReplaceLineEndings("\\n")}' cannot be used: {pathProblem}.");
        if (nameOrPath.Contains('/'))
        {
            var folder = Path.GetFullPath(nameOrPath);
            if (File.Exists(folder) && Path.GetFileName(folder) == Manifest) folder = Path.GetDirectoryName(folder)!;
            return TryLoad(folder) ?? throw new MyHvException(MyHvErrorKind.ImageNotFound,
                $"No guest image at '{nameOrPath}': the folder needs an {Manifest} naming its kernel and disk.");
        }
        foreach (var root in ImageSearchPath.Folders(paths))
        {
            var image = TryLoad(Path.Combine(root, nameOrPath));
            if (image is not null) return image;
        }
        throw new MyHvException(MyHvErrorKind.ImageNotFound,
            $"No guest image named '{nameOrPath}'. Looked in: {string.Join(", ", ImageSearchPath.Folders(paths))}. " +
            "Build the default image with 'New-MyVmImage -Name tiny' (or './build.ps1 -Task Bootstrap'), or pass -Image a folder path.");
    }

    /// <summary>Every image found in the search path, first one of a name wins.</summary>
    public IReadOnlyList<GuestImage> List()
    {
        var found = new Dictionary<string, GuestImage>(StringComparer.Ordinal);
        foreach (var root in ImageSearchPath.Folders(paths).Where(Directory.Exists))
        {
            // Another user's (or root's) image folder this user cannot list holds nothing for it.
            IReadOnlyList<string> folders;
            try { folders = Directory.EnumerateDirectories(root).ToList(); }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException) { continue; }
            foreach (var folder in folders)
            {
                // Dot folders are an image builder's work in progress, never an image.
                if (Path.GetFileName(folder).StartsWith('.')) continue;
                if (TryLoad(folder) is { } image) found.TryAdd(image.Name, image);
            }
        }
        return found.Values.OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
    }

    public static GuestImage? TryLoad(string folder)
    {
        var manifest = Path.Combine(folder, Manifest);
        if (!File.Exists(manifest)) return null;
        ImageManifest? raw;
        try
        {
            raw = JsonSerializer.Deserialize<ImageManifest>(File.ReadAllText(manifest), ManifestOptions);
        }
        catch (UnauthorizedAccessException)
        {
            // Not readable by this user: not an image for it (a later search folder may have one).
            return null;
        }
        catch (JsonException e)
        {
            throw new MyHvException(MyHvErrorKind.ImageNotFound, $"The image manifest '{manifest}' is not valid: {e.Message}");
        }
        var firmware = string.Equals(raw?.Boot, GuestImage.FirmwareBoot, StringComparison.OrdinalIgnoreCase);
        if (raw?.Boot is not null && !firmware)
            throw new MyHvException(MyHvErrorKind.ImageNotFound,
                $"The image manifest '{manifest}' says \"Boot\": \"{raw.Boot.ReplaceLineEndings("\\n")}\"; the only value is \"{GuestImage.FirmwareBoot}\" (leave it out for direct kernel boot).");
        if (raw is null || raw.Disk is null || (raw.Kernel is null && !firmware))
            throw new MyHvException(MyHvErrorKind.ImageNotFound,
                $"The image manifest '{manifest}' must name Kernel and Disk (or Disk and \"Boot\": \"{GuestImage.FirmwareBoot}\" for a whole disk with its own boot loader).");
        if (raw.DiskFormat is not null and not "raw" and not "qcow2")
            throw new MyHvException(MyHvErrorKind.ImageNotFound,
                $"The image manifest '{manifest}' says \"DiskFormat\": \"{raw.DiskFormat.ReplaceLineEndings("\\n")}\"; use \"raw\" or \"qcow2\".");
        var image = new GuestImage
        {
            Name = raw.Name ?? Path.GetFileName(folder),
            Folder = folder,
            Kernel = firmware ? null : Path.Combine(folder, raw.Kernel!),
            Initrd = firmware || raw.Initrd is null ? null : Path.Combine(folder, raw.Initrd),
            Disk = Path.Combine(folder, raw.Disk),
            DiskFormat = raw.DiskFormat ?? "raw",
            CommandLine = raw.CommandLine ?? "console=ttyS0",
            ReadyLine = raw.ReadyLine ?? "myhv-guest: ready",
            GuestAgent = raw.GuestAgent ?? false,
        };
        foreach (var file in new[] { image.Kernel, image.Disk, image.Initrd }.OfType<string>())
            if (!File.Exists(file))
                throw new MyHvException(MyHvErrorKind.ImageNotFound, $"The image '{image.Name}' in '{folder}' is incomplete: '{file}' is missing.");
        return image;
    }

    private static readonly JsonSerializerOptions ManifestOptions = new() { PropertyNameCaseInsensitive = true };

    /// <summary>image.json as written by the image builder; paths are relative to its folder.</summary>
    private sealed record ImageManifest(string? Name, string? Kernel, string? Initrd, string? Disk,
        string? DiskFormat, string? CommandLine, string? ReadyLine, bool? GuestAgent = null, string? Boot = null);
}
