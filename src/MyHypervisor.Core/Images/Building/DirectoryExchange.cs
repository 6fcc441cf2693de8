using System.Runtime.InteropServices;

namespace MyHypervisor.Core.Images.Building;

/// <summary>
/// Puts a finished image folder in place in one step: rename(2) when the name is free, else
/// renameat2(RENAME_EXCHANGE), which swaps the new and the old folder atomically (there is no
/// moment without an image, and the old one ends up where the new one was, in the work folder).
/// </summary>
internal static class DirectoryExchange
{
    private const int AtFdCwd = -100;
    private const uint RenameNoReplace = 1;
    private const uint RenameExchange = 2;

    // Strings marshal as UTF-8 on Unix.
    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    /// <summary>Moves <paramref name="staged"/> to <paramref name="destination"/>; an existing destination ends up at <paramref name="staged"/>.</summary>
    public static void Install(string staged, string destination)
    {
        var flags = Directory.Exists(destination) ? RenameExchange : RenameNoReplace;
        if (RenameAt2(AtFdCwd, staged, AtFdCwd, destination, flags) != 0)
            throw new IOException($"could not move {staged} to {destination}: errno {Marshal.GetLastPInvokeError()}");
    }
}
