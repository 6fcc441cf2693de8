namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// One kind of image New-MyVmImage can build (Debian from packages, the busybox 'tiny' image).
/// <see cref="ImageBuilder"/> runs every recipe in the same transaction: validation and host
/// checks first, the recipe-hash cache, one build per name, a ledger, fail points
/// image.&lt;step&gt;, and the finished folder renamed into place last.
/// </summary>
public interface IImageRecipe
{
    string Name { get; }

    /// <summary>Checks the recipe before anything is created (InvalidVmName / InvalidVmSpec).</summary>
    void Validate();

    /// <summary>The cache key: sha256 (hex) over everything the image is made from.</summary>
    string Hash();

    /// <summary>A short description for -WhatIf and progress.</summary>
    string Describe();

    /// <summary>The host programs the build needs, by name; PrerequisiteMissing naming the package otherwise.</summary>
    IReadOnlyDictionary<string, string> CheckHost();

    /// <summary>
    /// True when a rebuild keeps the previous image's disk file as it is (so VMs whose overlays
    /// sit on it may keep running and starting while the image is rebuilt under them).
    /// </summary>
    bool KeepsDiskOf(string previousImage);

    /// <summary>
    /// Builds the image's files into <see cref="ImageBuildRun.Staged"/> (steps marked on the
    /// ledger, each ending with its fail point) and returns its image.json.
    /// </summary>
    BuiltImageManifest Produce(ImageBuildRun run);
}
