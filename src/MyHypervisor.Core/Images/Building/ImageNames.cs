using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Images.Building;

/// <summary>The rule for an image's name (it becomes a folder name in the image search path).</summary>
public static partial class ImageNames
{
    public static void Check(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !Pattern().IsMatch(name))
            throw new MyHvException(MyHvErrorKind.InvalidVmName,
                $"'{name}' is not a valid image name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex Pattern();
}
