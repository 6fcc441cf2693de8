# Child processes for Invoke-TestRun.ps1: starting a suite's child in its own session and process
# group with its own environment marker, finding every process that belongs to a suite however it
# detached, and ending them. Dot-sourced. Linux only (reads /proc). Not a suite: never name this
# file *.Tests.ps1.

$script:KillExe   = (Get-Command -Name kill -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
$script:SetsidExe = (Get-Command -Name setsid -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
$script:TermGraceSeconds = 5    # after SIGTERM, how long a suite's processes get before SIGKILL
$script:KillVerifySeconds = 5   # after SIGKILL, how long we wait to see every process gone
# Every process a suite starts inherits this variable (a detached daemon too: setsid, double fork
# and nohup keep the environment). Its value is a space-separated list of suite tokens, one per
# nested runner, so an outer runner still finds what an inner runner's suites started.
$script:MarkerName = 'MYHV_RUNNER_SUITE'
$script:PwshLaunch = $null      # how every child pwsh of this run starts (Get-PwshLaunchPrefix, once)

$script:NativeSource = @'
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
// One live process, from /proc/<pid>/stat, cmdline and environ.
public sealed class MyHvProcessRow {
    public int Pid { get; set; }
    public string State { get; set; }
    public int PPid { get; set; }
    public int Pgrp { get; set; }
    public int Sid { get; set; }
    public long Start { get; set; }
    public string CmdLine { get; set; }
    public string[] Markers { get; set; }   // the suite tokens of every marker variable in its environment
}
// SIGINT/SIGTERM to the runner only set a flag the scheduler polls, so cleanup runs in order on
// the runner's own thread; prctl makes the runner the child subreaper of everything it starts.
// The process table and the search for a suite's processes are here too: they run after every
// suite over every process on a busy shared host, which costs a PowerShell loop ten times more.
public static class MyHvRunnerNative {
    public static volatile int Signal;
    static PosixSignalRegistration sigint, sigterm, sighup;
    public static void RegisterSignals() {
        if (sigint != null) return;
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Signal = 2; });
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Signal = 15; });
        sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; Signal = 1; });
    }
    [DllImport("libc", SetLastError = true)] static extern int prctl(int option, ulong a2, ulong a3, ulong a4, ulong a5);
    [DllImport("libc")] public static extern uint geteuid();
    [DllImport("libc", SetLastError = true)] static extern int waitpid(int pid, out int status, int options);
    public static bool BecomeSubreaper() { return prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) == 0; }
    // Reaps one adopted orphan (never a child .NET started: those it reaps itself).
    public static bool Reap(int pid) { int status; return waitpid(pid, out status, 1 /* WNOHANG */) == pid; }
    [DllImport("libc", SetLastError = true)] static extern int mkdir(string path, uint mode);
    // mkdir(2) with mode 0700: fails (false) when the name exists, whatever it is (mktemp's rule).
    public static bool MakePrivateDirectory(string path) { return mkdir(path, 448 /* 0700 */) == 0; }
    [DllImport("libc", SetLastError = true)] static extern int execve(string path, string[] argv, string[] envp);
    // execve(2): this process becomes argv (same pid); returns errno only when that failed.
    public static int Exec(string path, string[] argv, string[] envp) {
        var a = new string[argv.Length + 1]; Array.Copy(argv, a, argv.Length);   // both lists end with NULL
        var e = new string[envp.Length + 1]; Array.Copy(envp, e, envp.Length);
        execve(path, a, e);
        return Marshal.GetLastPInvokeError();
    }

    static byte[] buffer = new byte[1 << 16];
    // A /proc file's bytes into the shared buffer (no stream or text decoding: most of a table's cost).
    static int ReadProcFile(string path) {
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read)) {
            int total = 0;
            while (true) {
                if (total == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                int n = RandomAccess.Read(handle, new Span<byte>(buffer, total, buffer.Length - total), total);
                if (n <= 0) return total;
                total += n;
            }
        }
    }

    public static List<MyHvProcessRow> ReadProcessTable(string markerName) {
        lock (typeof(MyHvRunnerNative)) {
        var rows = new List<MyHvProcessRow>();
        byte[] needle = System.Text.Encoding.ASCII.GetBytes("\0" + markerName + "=");
        var utf8 = System.Text.Encoding.UTF8;
        foreach (string dir in Directory.EnumerateDirectories("/proc")) {
            int pid;
            if (!int.TryParse(Path.GetFileName(dir), out pid)) continue;
            string stat, cmd;
            try {
                stat = System.Text.Encoding.ASCII.GetString(buffer, 0, ReadProcFile(dir + "/stat"));
                cmd = utf8.GetString(buffer, 0, ReadProcFile(dir + "/cmdline"));
            } catch { continue; }   // it ended while we looked
            var markers = new List<string>();
            try {
                // Every occurrence of the variable counts: a hand-made environment may hold it twice.
                // Searched as bytes after a NUL; the buffer starts with one, so the first variable counts too.
                buffer[0] = 0;
                int length;
                using (var handle = File.OpenHandle(dir + "/environ", FileMode.Open, FileAccess.Read)) {
                    length = 1;
                    while (true) {
                        if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                        int n = RandomAccess.Read(handle, new Span<byte>(buffer, length, buffer.Length - length), length - 1);
                        if (n <= 0) break;
                        length += n;
                    }
                }
                var env = new ReadOnlySpan<byte>(buffer, 0, length);
                for (int at = env.IndexOf(needle); at >= 0; ) {
                    int from = at + needle.Length;
                    int end = env.Slice(from).IndexOf((byte) 0); end = end < 0 ? length : from + end;
                    markers.AddRange(utf8.GetString(buffer, from, end - from).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries));
                    int next = env.Slice(end).IndexOf(needle);
                    at = next < 0 ? -1 : end + next;
                }
            } catch { }
            // comm (field 2) may hold spaces and parentheses: split after the LAST ')'.
            int close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length) continue;
            string[] f = stat.Substring(close + 2).Split(' ');
            if (f.Length < 20) continue;
            rows.Add(new MyHvProcessRow { Pid = pid, State = f[0], PPid = int.Parse(f[1]), Pgrp = int.Parse(f[2]), Sid = int.Parse(f[3]),
                Start = long.Parse(f[19]), CmdLine = cmd.Replace('\0', ' ').TrimEnd(), Markers = markers.ToArray() });
        }
        return rows;
        }
    }

    // This process and its ancestors: never signalled, whatever a search finds.
    public static HashSet<int> ProtectedPids(List<MyHvProcessRow> table, int self) {
        var byPid = new Dictionary<int, MyHvProcessRow>();
        foreach (var row in table) byPid[row.Pid] = row;
        var protectedPids = new HashSet<int>();
        for (int p = self; p > 0 && protectedPids.Add(p) && byPid.ContainsKey(p); p = byPid[p].PPid) { }
        return protectedPids;
    }

    // True when a command line names path itself or something under it (not a longer sibling name).
    public static bool NamesPath(string cmdLine, string path) {
        return cmdLine.Contains(path) && Regex.IsMatch(cmdLine, "(?:^|[\\s=:,'\"])" + Regex.Escape(path) + "(?:$|[/\\s,:'\"])");
    }

    // See Find-SuiteProcess in RunnerProcess.ps1 for what belongs to a suite.
    public static List<MyHvProcessRow> FindSuite(List<MyHvProcessRow> table, int self, string token, int leaderPid, string rootPath, int[] also, int[] exclude, bool adoptUnmarked) {
        var protectedPids = ProtectedPids(table, self);
        var excluded = new HashSet<int>(exclude ?? new int[0]);
        var alsoSet = new HashSet<int>(also ?? new int[0]);
        var children = new Dictionary<int, List<int>>();
        var wanted = new HashSet<int>();
        foreach (var row in table) {
            List<int> kids;
            if (!children.TryGetValue(row.PPid, out kids)) { kids = new List<int>(); children[row.PPid] = kids; }
            kids.Add(row.Pid);
            if (excluded.Contains(row.Pid)) continue;
            if (!string.IsNullOrEmpty(token) && Array.IndexOf(row.Markers, token) >= 0) wanted.Add(row.Pid);
            // By group/session id, not by pid: once the leader is gone its pid may be reused.
            else if (leaderPid > 0 && (row.Pgrp == leaderPid || row.Sid == leaderPid)) wanted.Add(row.Pid);
            else if (!string.IsNullOrEmpty(rootPath) && NamesPath(row.CmdLine, rootPath)) wanted.Add(row.Pid);
            else if (alsoSet.Contains(row.Pid)) wanted.Add(row.Pid);
            else if (adoptUnmarked && row.PPid == self && row.Markers.Length == 0) wanted.Add(row.Pid);
        }
        var queue = new Queue<int>(wanted);
        while (queue.Count > 0) {
            List<int> kids;
            if (!children.TryGetValue(queue.Dequeue(), out kids)) continue;
            foreach (int kid in kids) if (!excluded.Contains(kid) && wanted.Add(kid)) queue.Enqueue(kid);
        }
        var found = new List<MyHvProcessRow>();
        foreach (var row in table) if (wanted.Contains(row.Pid) && !protectedPids.Contains(row.Pid) && row.State != "Z") found.Add(row);
        return found;
    }
}
'@

function Initialize-RunnerNative {
    <#
    Loads the small native helper, compiled once per source version into the user's cache
    (compiling costs about 2 s; loading the cached assembly a few milliseconds).
    #>
    if ('MyHvRunnerNative' -as [type]) { return }
    $hash = [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($script:NativeSource + $PSVersionTable.PSVersion))).Substring(0, 16)
    $cacheRoot = if ($env:XDG_CACHE_HOME) { $env:XDG_CACHE_HOME } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.cache' }
    $dir = Join-Path $cacheRoot 'myhypervisor/runner'
    $dll = Join-Path $dir "MyHvRunnerNative-$hash.dll"
    if (-not [System.IO.File]::Exists($dll)) {
        $null = [System.IO.Directory]::CreateDirectory($dir)
        $temp = "$dll.tmp-$PID.dll"
        Add-Type -TypeDefinition $script:NativeSource -OutputAssembly $temp -OutputType Library
        [System.IO.File]::Move($temp, $dll, $true)
    }
    Add-Type -LiteralPath $dll
}

function Get-ProcessTable {
    <#
    Every live process from /proc: Pid, PPid, Pgrp, Sid, State, Start, the command line (NULs as
    spaces) and Markers (the suite tokens in its environment; empty when it has none or cannot be read).
    #>
    [MyHvRunnerNative]::ReadProcessTable($script:MarkerName)
}

function Get-ProtectedPid {
    <# This runner and its ancestors: never signalled, whatever a search finds. #>
    param([object[]] $Table)
    $list = [System.Collections.Generic.List[MyHvProcessRow]]::new()
    foreach ($row in $Table) { $list.Add($row) }
    , [MyHvRunnerNative]::ProtectedPids($list, $PID)
}

function Test-CmdLineNamesPath {
    <# True when a command line names $Path itself or something under it (not a longer sibling name). #>
    param([string] $CmdLine, [Parameter(Mandatory)] [string] $Path)
    [MyHvRunnerNative]::NamesPath($CmdLine, $Path)
}

function Find-SuiteProcess {
    <#
    Live (non-zombie) processes that belong to a suite:
      - its environment marker token (inherited by everything it starts, however detached),
      - its process group or session (the child was started by setsid: both equal its pid),
      - anything whose command line names the suite's MYHV_TEST_ROOT,
      - orphans the runner adopted as child subreaper that carry no marker at all (their
        environment was emptied), when $AdoptUnmarked: they can only come from a suite,
      - and the descendants of all of these.
    Never this runner or its ancestors. $Exclude: pids never to report (other suites' live
    leaders, warm children). One read of /proc; the matching is compiled (MyHvRunnerNative.FindSuite).
    #>
    param([string] $Token, [int] $LeaderPid, [string] $RootPath, [int[]] $AlsoPid = @(), [int[]] $Exclude = @(), [switch] $AdoptUnmarked)
    $table = [MyHvRunnerNative]::ReadProcessTable($script:MarkerName)
    [MyHvRunnerNative]::FindSuite($table, $PID, $Token, $LeaderPid, $RootPath, [int[]] @($AlsoPid), [int[]] @($Exclude), [bool] $AdoptUnmarked)
}

function Send-Signal {
    <# kill(1) with an argument list: the whole group (negative id) and each listed pid. Errors for gone pids are expected. #>
    param([Parameter(Mandatory)] [ValidateSet('TERM', 'KILL')] [string] $Signal, [int] $GroupId, [int[]] $ProcessId = @())
    $targets = @()
    if ($GroupId -gt 0) { $targets += "-$GroupId" }
    $targets += @($ProcessId | ForEach-Object { "$_" })
    if (-not $targets) { return }
    & $script:KillExe -s $Signal -- @targets 2>$null | Out-Null
}

function Get-LiveGroupId {
    <# The suite's group id when one of the found processes is still in it, else 0 (a gone group's id may be reused). #>
    param([object[]] $Processes, [int] $LeaderPid)
    if ($LeaderPid -gt 0 -and ($Processes | Where-Object Pgrp -EQ $LeaderPid)) { return $LeaderPid }
    0
}

function Clear-AdoptedZombie {
    <# Reaps orphans the runner adopted (as subreaper) that have ended, so they do not pile up as zombies. #>
    param([int[]] $Known = @())
    if (-not ('MyHvRunnerNative' -as [type])) { return }
    foreach ($p in $Known) { $null = [MyHvRunnerNative]::Reap($p) }
}

function Stop-SuiteProcess {
    <#
    Ends every process of a suite: SIGTERM to the group and to each member, up to TermGraceSeconds,
    then SIGKILL, then looks again until none is left. Returns the processes found first (.Found)
    and any that survived SIGKILL (.Survivors; should always be empty).
    #>
    param([string] $Token, [int] $LeaderPid, [string] $RootPath, [int[]] $Exclude = @(), [switch] $AdoptUnmarked)
    $search = @{ Token = $Token; LeaderPid = $LeaderPid; RootPath = $RootPath; Exclude = $Exclude; AdoptUnmarked = $AdoptUnmarked }
    $found = @(Find-SuiteProcess @search)
    $result = [pscustomobject]@{ Found = $found; Survivors = @() }
    if (-not $found) { return $result }
    $known = @($found.Pid)
    Send-Signal -Signal TERM -GroupId (Get-LiveGroupId -Processes $found -LeaderPid $LeaderPid) -ProcessId $known
    $deadline = [DateTime]::UtcNow.AddSeconds($script:TermGraceSeconds)
    do {
        Start-Sleep -Milliseconds 50
        Clear-AdoptedZombie -Known $known
        $alive = @(Find-SuiteProcess @search -AlsoPid $known)
    } while ($alive -and [DateTime]::UtcNow -lt $deadline)
    $deadline = [DateTime]::UtcNow.AddSeconds($script:KillVerifySeconds)
    while ($alive -and [DateTime]::UtcNow -lt $deadline) {
        $known = @($known + $alive.Pid | Select-Object -Unique)
        Send-Signal -Signal KILL -GroupId (Get-LiveGroupId -Processes $alive -LeaderPid $LeaderPid) -ProcessId $alive.Pid
        Start-Sleep -Milliseconds 100
        Clear-AdoptedZombie -Known $known
        $alive = @(Find-SuiteProcess @search -AlsoPid $known)
    }
    $result.Survivors = $alive
    $result
}

function Get-PwshLaunchPrefix {
    <#
    How to start a new pwsh exactly like this one: the native apphost (pwsh) directly, or, under
    `dotnet pwsh` (a .NET local tool), the dotnet host followed by pwsh.dll (skipping the tool
    manifest lookup, which costs most of a second per start): the ReadyToRun copy's when it
    exists, else $PSHOME's.
    #>
    $exe = [Environment]::ProcessPath
    if ([System.IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return $exe }
    # The ReadyToRun copy of this pwsh when Bootstrap made it (Runner/RunnerPwshCache.ps1).
    $precompiled = Get-ReadyToRunPwshHome
    if ($precompiled) { return $exe, (Join-Path $precompiled 'pwsh.dll') }
    $dll = Join-Path $PSHOME 'pwsh.dll'
    if (-not [System.IO.File]::Exists($dll)) { throw "Cannot start a child pwsh: host is '$exe' and '$dll' does not exist." }
    $exe, $dll
}

function Start-SuiteChild {
    <#
    Starts RunnerChild.ps1 (which then waits for its job on stdin) under setsid, so the child leads
    a new session and process group (pgid = sid = its pid). Argument list only, no shell. Its
    environment carries the suite's marker token; the job (with the goodbye key) only ever goes
    over stdin (Send-SuiteJob).
    #>
    param(
        [Parameter(Mandatory)] [string[]] $ChildArguments,
        [Parameter(Mandatory)] [string] $WorkingDirectory,
        [Parameter(Mandatory)] [hashtable] $Environment
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new($script:SetsidExe)
    if (-not $script:PwshLaunch) { $script:PwshLaunch = @(Get-PwshLaunchPrefix) }   # once per run: every child starts alike
    foreach ($arg in $script:PwshLaunch + @('-NoProfile', '-NonInteractive', '-NoLogo') + $ChildArguments) { $psi.ArgumentList.Add($arg) }
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.StandardOutputEncoding = [System.Text.UTF8Encoding]::new($false)
    $psi.StandardErrorEncoding = [System.Text.UTF8Encoding]::new($false)
    foreach ($key in $Environment.Keys) {
        if ($null -eq $Environment[$key]) { $null = $psi.Environment.Remove($key) } else { $psi.Environment[$key] = $Environment[$key] }
    }
    [System.Diagnostics.Process]::Start($psi)
}

function Send-SuiteJob {
    <# The job line (with the goodbye key) over the child's stdin, which is then closed for good. #>
    param([Parameter(Mandatory)] [System.Diagnostics.Process] $Process, [Parameter(Mandatory)] [hashtable] $Job)
    try {
        $Process.StandardInput.WriteLine((ConvertTo-Json -InputObject $Job -Compress))
        $Process.StandardInput.Flush()
    } catch { }   # a child that already died fails its verdict (no goodbye)
    try { $Process.StandardInput.Close() } catch { }
}

function ConvertTo-SafeLine {
    <# A suite's line made inert: colour sequences dropped, other control characters visible. #>
    param([string] $Line)
    ConvertTo-VisibleText -Text ($Line -replace '\x1B\[[0-?]*[ -/]*[@-~]', '')
}

function New-StreamPump {
    <# State for reading one of the child's pipes line by line without blocking. #>
    param([Parameter(Mandatory)] [System.IO.StreamReader] $Reader, [Parameter(Mandatory)] [string] $LogPath)
    $log = [System.IO.StreamWriter]::new($LogPath, $false, [System.Text.UTF8Encoding]::new($false))
    $log.AutoFlush = $true
    [pscustomobject]@{ Reader = $Reader; Task = $Reader.ReadLineAsync(); Eof = $false; Log = $log
        Tail = [System.Collections.Generic.Queue[string]]::new() }
}

function Invoke-StreamPump {
    <#
    Moves every line already read from one pipe to the log and, prefixed, to $Sink (a list: the
    suite's block, printed when it ends) or straight to the host when $Sink is $null. True if any moved.
    #>
    param([Parameter(Mandatory)] $Pump, [Parameter(Mandatory)] [string] $Prefix, [System.Collections.Generic.List[string]] $Sink)
    $moved = $false
    while (-not $Pump.Eof -and $Pump.Task.IsCompleted) {
        $line = $null
        try { $line = $Pump.Task.GetAwaiter().GetResult() } catch { $line = $null }
        if ($null -eq $line) { $Pump.Eof = $true; break }
        $safe = ConvertTo-SafeLine -Line $line
        $Pump.Log.WriteLine($safe)
        $Pump.Tail.Enqueue($safe)
        while ($Pump.Tail.Count -gt 15) { $null = $Pump.Tail.Dequeue() }
        if ($null -ne $Sink) { $Sink.Add("$Prefix$safe") } else { Write-RunnerLine "$Prefix$safe" }
        $moved = $true
        $Pump.Task = $Pump.Reader.ReadLineAsync()
    }
    $moved
}
