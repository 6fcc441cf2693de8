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
using System.Runtime.InteropServices;
// SIGINT/SIGTERM to the runner only set a flag the scheduler polls, so cleanup runs in order on
// the runner's own thread; prctl makes the runner the child subreaper of everything it starts.
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
    Every live process from /proc: Pid, PPid, Pgrp, Sid, State, the command line (NULs as spaces)
    and Markers (the suite tokens in its environment; empty when it has none or cannot be read).
    #>
    $rows = [System.Collections.Generic.List[object]]::new()
    $needle = "$script:MarkerName="
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
        try {
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline")
        } catch { continue }   # it ended while we looked
        $markers = [string[]] @()
        try {
            $environ = [System.IO.File]::ReadAllText("$dir/environ")
            $at = $environ.IndexOf("`0$needle")
            if ($at -ge 0) { $at += 1 } elseif ($environ.StartsWith($needle)) { $at = 0 }
            if ($at -ge 0) {
                $end = $environ.IndexOf([char] 0, $at); if ($end -lt 0) { $end = $environ.Length }
                $markers = $environ.Substring($at + $needle.Length, $end - $at - $needle.Length).Split(' ', [System.StringSplitOptions]::RemoveEmptyEntries)
            }
        } catch { }
        # comm (field 2) may hold spaces and parentheses: split after the LAST ')'.
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $rows.Add([pscustomobject]@{
                Pid     = $procId
                State   = $fields[0]
                PPid    = [int] $fields[1]
                Pgrp    = [int] $fields[2]
                Sid     = [int] $fields[3]
                Start   = [long] $fields[19]
                CmdLine = $cmd.Replace([char] 0, ' ').TrimEnd()
                Markers = $markers
            })
    }
    $rows
}

function Get-ProtectedPid {
    <# This runner and its ancestors: never signalled, whatever a search finds. #>
    param([object[]] $Table)
    $byPid = @{}
    foreach ($row in $Table) { $byPid[$row.Pid] = $row }
    $protected = [System.Collections.Generic.HashSet[int]]::new()
    for ($p = $PID; $p -gt 0 -and $protected.Add($p) -and $byPid.ContainsKey($p); $p = $byPid[$p].PPid) { }
    , $protected
}

function Test-CmdLineNamesPath {
    <# True when a command line names $Path itself or something under it (not a longer sibling name). #>
    param([string] $CmdLine, [Parameter(Mandatory)] [string] $Path)
    $CmdLine -match ('(?:^|[\s=:,''"])' + [regex]::Escape($Path) + '(?:$|[/\s,:''"])')
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
    $Exclude: pids never to report (other suites' live leaders, warm children).
    #>
    param([string] $Token, [int] $LeaderPid, [string] $RootPath, [int[]] $AlsoPid = @(), [int[]] $Exclude = @(), [switch] $AdoptUnmarked)
    $table = @(Get-ProcessTable)
    $protected = Get-ProtectedPid -Table $table
    $excluded = [System.Collections.Generic.HashSet[int]]::new([int[]] @($Exclude))
    $also = [System.Collections.Generic.HashSet[int]]::new([int[]] @($AlsoPid))
    $children = [System.Collections.Generic.Dictionary[int, System.Collections.Generic.List[int]]]::new()
    $wanted = [System.Collections.Generic.HashSet[int]]::new()
    foreach ($row in $table) {
        if (-not $children.ContainsKey($row.PPid)) { $children[$row.PPid] = [System.Collections.Generic.List[int]]::new() }
        $children[$row.PPid].Add($row.Pid)
        if ($excluded.Contains($row.Pid)) { continue }
        if ($Token -and $row.Markers.Count -and [System.Array]::IndexOf([string[]] $row.Markers, $Token) -ge 0) { $null = $wanted.Add($row.Pid) }
        # By group/session id, not by pid: once the leader is gone its pid may be reused.
        elseif ($LeaderPid -gt 0 -and ($row.Pgrp -eq $LeaderPid -or $row.Sid -eq $LeaderPid)) { $null = $wanted.Add($row.Pid) }
        elseif ($RootPath -and $row.CmdLine.Contains($RootPath) -and (Test-CmdLineNamesPath -CmdLine $row.CmdLine -Path $RootPath)) { $null = $wanted.Add($row.Pid) }
        elseif ($also.Contains($row.Pid)) { $null = $wanted.Add($row.Pid) }
        elseif ($AdoptUnmarked -and $row.PPid -eq $PID -and -not $row.Markers.Count) { $null = $wanted.Add($row.Pid) }
    }
    $queue = [System.Collections.Generic.Queue[int]]::new([int[]] @($wanted))
    while ($queue.Count) {
        $kids = $null
        if (-not $children.TryGetValue($queue.Dequeue(), [ref] $kids)) { continue }
        foreach ($kid in $kids) { if (-not $excluded.Contains($kid) -and $wanted.Add($kid)) { $queue.Enqueue($kid) } }
    }
    foreach ($row in $table) { if ($wanted.Contains($row.Pid) -and -not $protected.Contains($row.Pid) -and $row.State -ne 'Z') { $row } }
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
