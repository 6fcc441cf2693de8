using System.Management.Automation;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Images.Building;
using MyHypervisor.Core.Images.Inventory;
using MyHypervisor.Core.Lifecycle;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>The image cmdlets' Core objects for the current environment, and -Name matching over images.</summary>
internal static class ImageBuilders
{
    public static ImageBuilder Builder(VmManager manager) =>
        new(ImageSearchPath.UserImageFolder(), new ImageUsage(new VmStore(manager.Paths)));

    public static ImageInventory Inventory(VmManager manager) =>
        new(manager.Paths, new ImageUsage(new VmStore(manager.Paths)));

    /// <summary>Wildcards match (none is no error); a literal name that is not found is ImageNotFound.</summary>
    public static IEnumerable<ImageInfo> Match(MyHypervisorCmdlet cmdlet, IEnumerable<string> names)
    {
        var all = Inventory(VmManager.FromEnvironment()).List();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (WildcardPattern.ContainsWildcardCharacters(name))
            {
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                foreach (var image in all.Where(i => pattern.IsMatch(i.Name)))
                    if (seen.Add(image.Name)) yield return image;
                continue;
            }
            var found = all.FirstOrDefault(i => i.Name == name);
            if (found is null)
            {
                cmdlet.WriteError(ErrorRecords.From(new MyHvException(MyHvErrorKind.ImageNotFound,
                    $"No guest image named '{name}'. Get-MyVmImage lists the images; New-MyVmImage builds one."), name));
                continue;
            }
            if (seen.Add(found.Name)) yield return found;
        }
    }
}
