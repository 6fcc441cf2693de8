using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// What New-MyVmImage builds: a Debian release, the packages on top of the base set, and the
/// disk size. Its <see cref="Hash"/> (over these and the guest files the build adds) is the
/// cache key: an image whose image.json carries the same hash is that build's result.
/// </summary>
public sealed partial record ImageRecipe
{
    /// <summary>Bump when the build itself changes in a way the inputs below do not show.</summary>
    public const int FormatVersion = 1;

    /// <summary>Always in the image: init, kernel, agent, SSH, networking (systemd-networkd).</summary>
    public static readonly IReadOnlyList<string> BasePackages = new[]
    {
        "systemd-sysv", "udev", "dbus", "iproute2", "openssh-server", "qemu-guest-agent",
        "linux-image-cloud-amd64", "initramfs-tools",
    };

    public static readonly IReadOnlyList<string> Distributions = new[] { "bookworm" };

    public required string Name { get; init; }
    public string Distribution { get; init; } = "bookworm";
    public IReadOnlyList<string> ExtraPackages { get; init; } = Array.Empty<string>();
    public int DiskSizeGiB { get; init; } = 2;

    /// <summary>Base packages and extras, sorted, without repeats.</summary>
    public IReadOnlyList<string> AllPackages =>
        BasePackages.Concat(ExtraPackages).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Checks the recipe before anything is created (InvalidVmSpec / InvalidVmName).</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Name) || Name.Length > 64 || !ImageNamePattern().IsMatch(Name))
            throw new MyHvException(MyHvErrorKind.InvalidVmName,
                $"'{Name}' is not a valid image name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        if (!Distributions.Contains(Distribution, StringComparer.Ordinal))
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                $"The distribution '{Distribution}' is not supported; use one of: {string.Join(", ", Distributions)}.");
        foreach (var package in ExtraPackages)
            if (!PackagePattern().IsMatch(package))
                throw new MyHvException(MyHvErrorKind.InvalidVmSpec,
                    $"'{package}' is not a Debian package name (lower-case letters, digits, '+', '-', '.'; at least two characters).");
        if (DiskSizeGiB is < 1 or > 1024)
            throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"-DiskSizeGiB must be between 1 and 1024 (got {DiskSizeGiB}).");
    }

    /// <summary>sha256 over the recipe and the guest files, hex.</summary>
    public string Hash()
    {
        var text = new StringBuilder()
            .Append("format ").Append(FormatVersion).Append('\n')
            .Append("distribution ").Append(Distribution).Append('\n')
            .Append("packages ").Append(string.Join(',', AllPackages)).Append('\n')
            .Append("disk ").Append(DiskSizeGiB).Append('\n');
        foreach (var file in GuestFiles.All())
            text.Append("file ").Append(file.Path).Append(' ').Append(Convert.ToHexString(SHA256.HashData(file.Content))).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))).ToLowerInvariant();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex ImageNamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+$")]
    private static partial Regex PackagePattern();
}
