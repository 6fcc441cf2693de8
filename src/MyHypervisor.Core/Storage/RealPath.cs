using System.Runtime.InteropServices;

namespace MyHypervisor.Core.Storage;

/// <summary>Paths with every symbolic link resolved, as the kernel would walk them.</summary>
public static class RealPath
{
    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr NativeRealPath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);

    /// <summary>realpath(3) of an existing path, or null when it does not exist (or cannot be walked).</summary>
    public static string? OfExisting(string path)
    {
        var result = NativeRealPath(path, IntPtr.Zero);
        if (result == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(result); }
        finally { Free(result); }
    }

    /// <summary>
    /// The path with links resolved in its longest existing ancestor (the rest appended as it is):
    /// where the path would really lead if it were created or deleted now. With
    /// <paramref name="keepLastComponent"/> the last component is not resolved itself (an unlink
    /// removes a link, not what it points to).
    /// </summary>
    public static string Resolve(string path, bool keepLastComponent = false)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        if (full.Length == 0) return "/";
        string head = full, tail = string.Empty;
        if (keepLastComponent)
        {
            head = Path.GetDirectoryName(full) ?? "/";
            tail = Path.GetFileName(full);
        }
        while (true)
        {
            var real = OfExisting(head);
            if (real is not null) return tail.Length == 0 ? real : Path.Join(real, tail);
            var parent = Path.GetDirectoryName(head);
            if (parent is null) return full;
            tail = tail.Length == 0 ? Path.GetFileName(head) : Path.Join(Path.GetFileName(head), tail);
            head = parent;
        }
    }

    /// <summary>True when <paramref name="candidate"/> is <paramref name="root"/> or lies below it (whole components).</summary>
    public static bool IsAtOrUnder(string candidate, string root)
    {
        root = root.TrimEnd('/');
        return candidate == root || candidate.StartsWith(root + "/", StringComparison.Ordinal);
    }
}
