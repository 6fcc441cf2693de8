using System.Diagnostics;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// PowerShell's SSH transport reports a failed connection as "the SSH transport process has
/// abruptly terminated"; ssh's own reason (connection refused, host key changed, permission
/// denied) goes to the terminal, not to the error. After such a failure, the same ssh is asked
/// once more, non-interactively and with the same options, to log in and exit, and its last
/// error line is the reason the VmHostUnreachable error gives.
/// </summary>
public static class SshDiagnosis
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static string? Why(VmHostConnection host)
    {
        var start = new ProcessStartInfo("ssh") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        var args = start.ArgumentList;
        args.Add("-T");
        foreach (var option in Options(host)) { args.Add("-o"); args.Add(option); }
        if (host.Port is { } port) { args.Add("-p"); args.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
        if (host.KeyFilePath is not null) { args.Add("-i"); args.Add(host.KeyFilePath); }
        if (host.UserName is not null) { args.Add("-l"); args.Add(host.UserName); }
        args.Add("--");
        args.Add(host.HostName);
        args.Add("exit");
        try
        {
            using var ssh = Process.Start(start);
            if (ssh is null) return null;
            ssh.StandardInput.Close();
            var stderr = ssh.StandardError.ReadToEndAsync();
            _ = ssh.StandardOutput.ReadToEndAsync();
            if (!ssh.WaitForExit(Limit))
            {
                ssh.Kill(entireProcessTree: true);
                return $"ssh did not finish logging in within {Limit.TotalSeconds:0} s";
            }
            var lines = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var last = lines.LastOrDefault(l => !l.StartsWith("Warning: Permanently added", StringComparison.Ordinal));
            return ssh.ExitCode == 0 ? null : last is null ? $"ssh exited with {ssh.ExitCode}" : $"ssh: {last.Replace("ssh: ", "")}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return $"ssh could not be run: {e.Message}";
        }
    }

    /// <summary>The connection's -o options (one line each; a value with a line break is left out), never interactive.</summary>
    private static IEnumerable<string> Options(VmHostConnection host)
    {
        var given = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (host.SshOptions is not null)
            foreach (System.Collections.DictionaryEntry entry in host.SshOptions)
            {
                var key = entry.Key?.ToString(); var value = entry.Value?.ToString();
                if (string.IsNullOrWhiteSpace(key) || value is null || (key + value).IndexOfAny(new[] { '\n', '\r', '\0' }) >= 0) continue;
                given.Add(key);
                yield return $"{key}={value}";
            }
        yield return "BatchMode=yes";
        if (!given.Contains("ConnectTimeout")) yield return "ConnectTimeout=10";
    }
}
