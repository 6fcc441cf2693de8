using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Storage;

namespace MyHypervisor.Core.Images.Building;

/// <summary>Which VMs (of this MYHV_HOME) were defined on an image folder: their overlays sit on its disk.</summary>
public sealed class ImageUsage(VmStore store)
{
    public IReadOnlyList<string> VmsUsing(string imageFolder)
    {
        var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(imageFolder));
        var users = new List<string>();
        foreach (var name in store.ListNames())
        {
            try
            {
                var definition = store.ReadDefinition(name);
                if (Path.TrimEndingDirectorySeparator(Path.GetFullPath(definition.ImagePath)) == folder) users.Add(name);
            }
            catch (MyHvException)
            {
                // An unreadable definition is another command's problem; it uses no image we can name.
            }
        }
        return users;
    }
}
