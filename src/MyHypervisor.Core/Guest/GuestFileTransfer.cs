using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Guest;

/// <summary>
/// Copies one file between host and guest through the agent's guest-file-open/read/write/close,
/// in chunks, with the SHA-256 checked on both ends (sha256sum in the guest). The destination
/// only ever appears whole: the data goes to a temporary name next to it, which is renamed once
/// the hashes match, and removed on any failure or Ctrl+C.
/// </summary>
public static class GuestFileTransfer
{
    public const int ChunkBytes = 1024 * 1024;
    private static readonly TimeSpan Each = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Progress: bytes done of the total.</summary>
    public delegate void ProgressCallback(long done, long total);

    public sealed record Outcome(string Source, string Destination, long Bytes, string Sha256, TimeSpan Duration);

    public static Outcome ToGuest(GuestAgentConnection agent, string vm, string hostPath, string guestPath, bool force,
        ProgressCallback progress, CancellationToken cancel)
    {
        var started = DateTime.UtcNow;
        var source = Path.GetFullPath(hostPath);
        if (Directory.Exists(source)) throw Failed(vm, $"The source '{hostPath}' is a folder; Copy-MyVmFile copies one file.");
        if (!File.Exists(source)) throw Failed(vm, $"The source file '{hostPath}' does not exist on the host.");
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkBytes);
        var total = input.Length;

        // One guest round trip settles the destination: a folder means "into it", as with Copy-Item.
        var check = GuestCommandRunner.RunHelper(agent, new[] { "/bin/sh", "-c", DestinationScript, "sh", guestPath, Path.GetFileName(source) },
            HelperTimeout, cancel);
        var destination = check.StdOut.TrimEnd('\n');
        switch (check.ExitCode)
        {
            case 0: break;
            case 10: throw Failed(vm, $"The destination folder of '{guestPath}' does not exist in the guest.");
            case 11 when !force: throw Failed(vm, $"The destination '{destination}' already exists in the guest. Use -Force to overwrite it.");
            case 11: break;
            case 12: throw Failed(vm, $"The destination '{destination}' is a folder in the guest that cannot be overwritten by a file.");
            default: throw Failed(vm, $"Cannot check the destination '{guestPath}' in the guest: {check.StdErr.Trim()}");
        }
        var temp = TempName(destination);
        long handle = -1;
        try
        {
            handle = Open(agent, vm, temp, "w", cancel);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var chunk = new byte[ChunkBytes];
            long done = 0;
            progress(0, total);
            int n;
            while ((n = input.Read(chunk, 0, chunk.Length)) > 0)
            {
                cancel.ThrowIfCancellationRequested();
                sha.AppendData(chunk, 0, n);
                var args = new JsonObject { ["handle"] = handle, ["buf-b64"] = Convert.ToBase64String(chunk, 0, n), ["count"] = n };
                try { agent.Execute("guest-file-write", args, Each, cancel); }
                catch (GuestAgentCommandException e) { throw Failed(vm, $"Writing '{destination}' in the guest failed: {Explain(e)}"); }
                done += n;
                progress(done, total);
            }
            Close(agent, handle);
            handle = -1;
            var hash = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
            var guestHash = GuestSha256(agent, vm, temp, cancel);
            if (guestHash != hash)
                throw Failed(vm, $"The copy of '{source}' in the guest has SHA-256 {guestHash}, not {hash}: the transfer was damaged.");
            var rename = GuestCommandRunner.RunHelper(agent, force
                ? new[] { "mv", "-f", "--", temp, destination }
                : new[] { "/bin/sh", "-c", "[ -e \"$2\" ] && exit 11; exec mv -- \"$1\" \"$2\"", "sh", temp, destination }, HelperTimeout, cancel);
            if (rename.ExitCode == 11) throw Failed(vm, $"The destination '{destination}' appeared in the guest during the copy. Use -Force to overwrite it.");
            if (rename.ExitCode != 0) throw Failed(vm, $"Renaming the copy to '{destination}' in the guest failed: {rename.StdErr.Trim()}");
            temp = null;
            return new Outcome(source, destination, total, hash, DateTime.UtcNow - started);
        }
        finally
        {
            // Ctrl+C or a failure: nothing partial stays in the guest. Not cancellable (it is the cleanup).
            if (handle >= 0) TryQuietly(() => Close(agent, handle));
            if (temp is not null) TryQuietly(() => GuestCommandRunner.RunHelper(agent, new[] { "rm", "-f", "--", temp }, TimeSpan.FromSeconds(30), CancellationToken.None));
        }
    }

    public static Outcome FromGuest(GuestAgentConnection agent, string vm, string guestPath, string hostPath, bool force,
        ProgressCallback progress, CancellationToken cancel)
    {
        var started = DateTime.UtcNow;
        var info = GuestCommandRunner.RunHelper(agent, new[] { "/bin/sh", "-c", SourceScript, "sh", guestPath }, HelperTimeout, cancel);
        switch (info.ExitCode)
        {
            case 0: break;
            case 10: throw Failed(vm, $"The source file '{guestPath}' does not exist in the guest.");
            case 12: throw Failed(vm, $"The source '{guestPath}' is a folder in the guest; Copy-MyVmFile copies one file.");
            default: throw Failed(vm, $"Cannot read '{guestPath}' in the guest: {info.StdErr.Trim()}");
        }
        var parts = info.StdOut.Trim().Split(' ', 2);
        var total = long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var guestHash = parts[1].Trim();

        var destination = Path.GetFullPath(hostPath);
        if (Directory.Exists(destination)) destination = Path.Combine(destination, GuestBaseName(guestPath));
        var folder = Path.GetDirectoryName(destination)!;
        if (!Directory.Exists(folder)) throw Failed(vm, $"The destination folder '{folder}' does not exist on the host.");
        if (Directory.Exists(destination)) throw Failed(vm, $"The destination '{destination}' is a folder on the host that cannot be overwritten by a file.");
        if (File.Exists(destination) && !force) throw Failed(vm, $"The destination '{destination}' already exists. Use -Force to overwrite it.");

        var temp = TempName(destination);
        long handle = -1;
        try
        {
            handle = Open(agent, vm, guestPath, "r", cancel);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var output = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                long done = 0;
                progress(0, total);
                while (true)
                {
                    cancel.ThrowIfCancellationRequested();
                    JsonNode? reply;
                    try { reply = agent.Execute("guest-file-read", new JsonObject { ["handle"] = handle, ["count"] = ChunkBytes }, Each, cancel); }
                    catch (GuestAgentCommandException e) { throw Failed(vm, $"Reading '{guestPath}' in the guest failed: {Explain(e)}"); }
                    var count = reply?["count"]?.GetValue<int>() ?? 0;
                    if (count > 0)
                    {
                        var bytes = Convert.FromBase64String(reply!["buf-b64"]!.GetValue<string>());
                        sha.AppendData(bytes);
                        try { output.Write(bytes); }
                        catch (IOException e) { throw Failed(vm, $"Writing '{destination}' on the host failed: {e.Message}"); }
                        done += bytes.Length;
                        progress(done, Math.Max(total, done));
                    }
                    if (reply?["eof"]?.GetValue<bool>() == true || count == 0) break;
                }
                output.Flush(flushToDisk: true);
            }
            Close(agent, handle);
            handle = -1;
            var hash = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
            if (hash != guestHash)
                throw Failed(vm, $"The copy of '{guestPath}' has SHA-256 {hash}, but the guest's file has {guestHash} (did it change during the copy?).");
            if (!force && File.Exists(destination))
                throw Failed(vm, $"The destination '{destination}' appeared during the copy. Use -Force to overwrite it.");
            File.Move(temp, destination, overwrite: force);
            temp = null;
            return new Outcome(guestPath, destination, new FileInfo(destination).Length, hash, DateTime.UtcNow - started);
        }
        finally
        {
            if (handle >= 0) TryQuietly(() => Close(agent, handle));
            if (temp is not null) TryQuietly(() => File.Delete(temp));
        }
    }

    /// <summary>
    /// $1 the destination, $2 the source's file name. Prints the final path. Exit 10: no such folder;
    /// 11: the file exists; 12: it is a folder (even inside the named folder).
    /// </summary>
    private const string DestinationScript =
        "d=$1; if [ -d \"$d\" ]; then d=\"${d%/}/$2\"; fi; printf '%s\\n' \"$d\"; " +
        "p=$(dirname -- \"$d\"); [ -d \"$p\" ] || exit 10; [ -d \"$d\" ] && exit 12; [ -e \"$d\" ] && exit 11; exit 0";

    /// <summary>$1 the source. Prints "size sha256". Exit 10: missing; 12: a folder.</summary>
    private const string SourceScript =
        "[ -d \"$1\" ] && exit 12; [ -f \"$1\" ] || exit 10; s=$(stat -c %s -- \"$1\") || exit 13; " +
        "h=$(sha256sum -- \"$1\") || exit 13; printf '%s %s\\n' \"$s\" \"${h%% *}\"";

    private static string GuestSha256(GuestAgentConnection agent, string vm, string path, CancellationToken cancel)
    {
        var sum = GuestCommandRunner.RunHelper(agent, new[] { "sha256sum", "--", path }, HelperTimeout, cancel);
        if (sum.ExitCode != 0) throw Failed(vm, $"sha256sum failed in the guest: {sum.StdErr.Trim()}");
        return sum.StdOut.Split(' ', 2)[0].Trim().ToLowerInvariant();
    }

    private static long Open(GuestAgentConnection agent, string vm, string path, string mode, CancellationToken cancel)
    {
        try
        {
            return agent.Execute("guest-file-open", new JsonObject { ["path"] = path, ["mode"] = mode }, Each, cancel)?.GetValue<long>()
                ?? throw Failed(vm, $"The guest agent opened '{path}' but returned no handle.");
        }
        catch (GuestAgentCommandException e) { throw Failed(vm, $"Cannot open '{path}' in the guest: {Explain(e)}"); }
    }

    private static void Close(GuestAgentConnection agent, long handle) =>
        agent.Execute("guest-file-close", new JsonObject { ["handle"] = handle }, Each, CancellationToken.None);

    /// <summary>The agent's description, with its own "failed to ..." framing kept and ENOSPC named plainly.</summary>
    private static string Explain(GuestAgentCommandException e) =>
        e.Description.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            ? "no space left on the guest's file system"
            : e.Description;

    private static string TempName(string destination)
    {
        var folder = destination.Contains('/') ? destination[..(destination.LastIndexOf('/') + 1)] : "";
        var name = destination[(destination.LastIndexOf('/') + 1)..];
        return $"{folder}.{name}.myhv-{Guid.NewGuid().ToString("N")[..12]}.part";
    }

    private static string GuestBaseName(string guestPath) => guestPath.TrimEnd('/').Split('/')[^1];

    private static MyHvException Failed(string vm, string message) =>
        new(MyHvErrorKind.GuestCommandFailed, $"VM '{vm}': {message}", vm);

    private static void TryQuietly(Action action)
    {
        try { action(); } catch (Exception) { }
    }
}
