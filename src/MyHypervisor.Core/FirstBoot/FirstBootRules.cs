using System.Text.RegularExpressions;
using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>
/// Checks first-boot settings before anything is created (InvalidVmSpec). The guest reads them
/// with a line-based parser, so a value can never hold a line break or a quote that would let it
/// become another setting.
/// </summary>
public static partial class FirstBootRules
{
    public const int MaxKeys = 32;
    public const int MaxUserDataBytes = 64 * 1024;
    public const int MinSshPort = 1024, MaxSshPort = 65535;

    /// <summary>An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.</summary>
    [GeneratedRegex("^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostNamePattern();

    /// <summary>An OpenSSH public key line: type, base64 blob, optional printable comment.</summary>
    [GeneratedRegex("^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com) [A-Za-z0-9+/]+={0,3}( [\\x20-\\x26\\x28-\\x7e]{1,200})?$")]
    private static partial Regex PublicKeyPattern();

    public static void Validate(string vmName, FirstBootSettings settings, int? sshPort)
    {
        if (settings.HostName is { } host && !HostNamePattern().IsMatch(host))
            Fail(vmName, $"HostName '{Printable(host)}' is not a host name: dot-separated labels of 1-63 letters, digits or inner '-', 253 characters at most, no spaces or line breaks.");
        if (settings.SshPublicKeys.Count > MaxKeys)
            Fail(vmName, $"{settings.SshPublicKeys.Count} SSH keys; at most {MaxKeys}.");
        foreach (var key in settings.SshPublicKeys)
            if (!PublicKeyPattern().IsMatch(key))
                Fail(vmName, $"SshPublicKey '{Printable(key)}' is not an OpenSSH public key line ('ssh-ed25519 AAAA... comment', one line, no quotes).");
        if (settings.UserData is { } data)
        {
            if (data.Length == 0) Fail(vmName, "UserData is empty.");
            if (System.Text.Encoding.UTF8.GetByteCount(data) > MaxUserDataBytes)
                Fail(vmName, $"UserData is larger than {MaxUserDataBytes / 1024} KiB.");
            if (data.Contains('\0')) Fail(vmName, "UserData holds a NUL character.");
        }
        if (sshPort is { } port && port is < MinSshPort or > MaxSshPort)
            Fail(vmName, $"SshPort is {port}; use {MinSshPort} to {MaxSshPort}.");
    }

    /// <summary>Reads -SshPublicKeyPath: one key per non-empty, non-comment line.</summary>
    public static IReadOnlyList<string> ReadKeyFile(string vmName, string path)
    {
        if (!File.Exists(path)) Fail(vmName, $"SshPublicKeyPath '{path}' is not a file.");
        var info = new FileInfo(path);
        if (info.Length > 256 * 1024) Fail(vmName, $"SshPublicKeyPath '{path}' is larger than 256 KiB: not a public key file.");
        return File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
    }

    private static string Printable(string text)
    {
        var shown = Regex.Replace(text, "[\\x00-\\x1f\\x7f]", m => $"\\x{(int)m.Value[0]:x2}");
        return shown.Length > 60 ? shown[..60] + "..." : shown;
    }

    private static void Fail(string vmName, string message) =>
        throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"VM '{vmName}': {message}", vmName);
}
