using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Lifecycle;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// One build per image name: an exclusive lock on a file next to the image (.NET takes flock(2)
/// for FileShare.None, which the kernel drops when the process dies, even by SIGKILL).
/// </summary>
internal static class BuildLock
{
    public static IDisposable Acquire(string path, string imageName, OperationContext context)
    {
        var waitedSince = DateTime.UtcNow;
        while (true)
        {
            try
            {
                return new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
            }
            catch (IOException)
            {
                context.Cancel.ThrowIfCancellationRequested();
                if (DateTime.UtcNow - waitedSince > TimeSpan.FromMinutes(30))
                    throw new MyHvException(MyHvErrorKind.VmBusy, $"Another build of the image '{imageName}' has held {path} for 30 minutes.");
                context.Report(imageName, ImageBuilder.Activity, "Waiting for another build of this image", -1);
                Thread.Sleep(500);
            }
        }
    }
}
