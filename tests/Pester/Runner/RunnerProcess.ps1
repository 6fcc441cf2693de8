# Child processes for Invoke-TestRun.ps1: launching a suite in its own session and process group,
# streaming its output with a prefix, and ending every process that belongs to it.
# Dot-sourced. Linux only (reads /proc). Not a suite: never name this file *.Tests.ps1.

$script:KillExe   = (Get-Command -Name kill -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
$script:SetsidExe = (Get-Command -Name setsid -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
$script:TermGraceSeconds = 5    # after SIGTERM, how long a suite's processes get before SIGKILL
$script:KillVerifySeconds = 5   # after SIGKILL, how long we wait to see every process gone
$script:PipeDrainSeconds = 3    # after the child exits, how long its pipes may stay open

function Get-ProcessTable {
    <# Every live process from /proc: Pid, PPid, Pgrp, Sid, State and the command line (NULs as spaces). #>
    $rows = [System.Collections.Generic.List[object]]::new()
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
        try {
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline")
        } catch { continue }   # it ended while we looked
        # comm (field 2) may hold spaces and parentheses: split after the LAST ')'.
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $rows.Add([pscustomobject]@{
                Pid     = $procId
                State   = $fields[0]
                PPid    = [int] $fields[1]
                Pgrp    = [int] $fields[2]
                Sid     = [int] $fields[3]
                CmdLine = $cmd.Replace([char] 0, ' ').TrimEnd()
            })
    }
    $rows
}

function Get-ProtectedPid {
    <# This runner and its ancestors: never signalled, whatever a census finds. #>
    $table = @{}
    foreach ($row in Get-ProcessTable) { $table[$row.Pid] = $row }
    $protected = [System.Collections.Generic.HashSet[int]]::new()
    for ($p = $PID; $p -gt 0 -and $protected.Add($p) -and $table.ContainsKey($p); $p = $table[$p].PPid) { }
    , $protected
}

function Test-CmdLineNamesPath {
    <# True when a command line names $Path itself or something under it (not a longer sibling name). #>
    param([string] $CmdLine, [Parameter(Mandatory)] [string] $Path)
    $CmdLine -match ('(?:^|[\s=:,''"])' + [regex]::Escape($Path) + '(?:$|[/\s,:''"])')
}

function Find-SuiteProcess {
    <#
    Live (non-zombie) processes that belong to a suite: its process group or session (the child was
    started by setsid, so both ids equal the child's pid), descendants of the child while it lives,
    and anything whose command line names the suite's MYHV_TEST_ROOT (daemons that left the group).
    #>
    param([int] $LeaderPid, [string] $RootPath, [int[]] $AlsoPid = @())
    $table = @(Get-ProcessTable)
    $protected = Get-ProtectedPid
    $children = @{}
    foreach ($row in $table) { $children[$row.PPid] += @($row.Pid) }
    $wanted = [System.Collections.Generic.HashSet[int]]::new()
    foreach ($row in $table) {
        # By group/session id, not by pid: the leader is in its own group while it lives, and once
        # it is gone its pid may be reused by an unrelated process (which is not a member).
        if ($LeaderPid -gt 0 -and ($row.Pgrp -eq $LeaderPid -or $row.Sid -eq $LeaderPid)) { $null = $wanted.Add($row.Pid) }
        elseif ($RootPath -and (Test-CmdLineNamesPath -CmdLine $row.CmdLine -Path $RootPath)) { $null = $wanted.Add($row.Pid) }
        elseif ($row.Pid -in $AlsoPid) { $null = $wanted.Add($row.Pid) }
    }
    # Descendants of anything wanted (a grandchild that called setsid itself is still a descendant).
    $queue = [System.Collections.Generic.Queue[int]]::new([int[]] @($wanted))
    while ($queue.Count) {
        foreach ($kid in @($children[$queue.Dequeue()])) {
            if ($null -ne $kid -and $wanted.Add($kid)) { $queue.Enqueue($kid) }
        }
    }
    $table | Where-Object { $wanted.Contains($_.Pid) -and -not $protected.Contains($_.Pid) -and $_.State -ne 'Z' }
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
    <#
    The suite's process group id when one of the found processes is still in it, else 0.
    Signalling "-pgid" of a group that no longer exists could hit an unrelated group after pid reuse.
    #>
    param([object[]] $Processes, [int] $LeaderPid)
    if ($LeaderPid -gt 0 -and ($Processes | Where-Object Pgrp -EQ $LeaderPid)) { return $LeaderPid }
    0
}

function Stop-SuiteProcess {
    <#
    Ends every process of a suite: SIGTERM to the group and to each member, up to TermGraceSeconds,
    then SIGKILL, then looks again until none is left. Returns the processes found first
    (.Found) and any that survived SIGKILL (.Survivors; should always be empty).
    #>
    param([int] $LeaderPid, [string] $RootPath)
    $found = @(Find-SuiteProcess -LeaderPid $LeaderPid -RootPath $RootPath)
    $result = [pscustomobject]@{ Found = $found; Survivors = @() }
    if (-not $found) { return $result }
    $known = @($found.Pid)
    Send-Signal -Signal TERM -GroupId (Get-LiveGroupId -Processes $found -LeaderPid $LeaderPid) -ProcessId $known
    $deadline = [DateTime]::UtcNow.AddSeconds($script:TermGraceSeconds)
    do {
        Start-Sleep -Milliseconds 100
        $alive = @(Find-SuiteProcess -LeaderPid $LeaderPid -RootPath $RootPath -AlsoPid $known)
    } while ($alive -and [DateTime]::UtcNow -lt $deadline)
    $deadline = [DateTime]::UtcNow.AddSeconds($script:KillVerifySeconds)
    while ($alive -and [DateTime]::UtcNow -lt $deadline) {
        $known = @($known + $alive.Pid | Select-Object -Unique)
        Send-Signal -Signal KILL -GroupId (Get-LiveGroupId -Processes $alive -LeaderPid $LeaderPid) -ProcessId $alive.Pid
        Start-Sleep -Milliseconds 100
        $alive = @(Find-SuiteProcess -LeaderPid $LeaderPid -RootPath $RootPath -AlsoPid $known)
    }
    $result.Survivors = $alive
    $result
}

function Get-PwshLaunchPrefix {
    <#
    How to start a new pwsh exactly like this one: the native apphost (pwsh) directly, or, under
    `dotnet pwsh` (a .NET local tool), the dotnet host followed by $PSHOME/pwsh.dll.
    #>
    $exe = [Environment]::ProcessPath
    if ([System.IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return $exe }
    $dll = Join-Path $PSHOME 'pwsh.dll'
    if (-not (Test-Path -LiteralPath $dll -PathType Leaf)) { throw "Cannot start a child pwsh: host is '$exe' and '$dll' does not exist." }
    $exe, $dll
}

function Start-SuiteChild {
    <#
    Starts RunnerChild.ps1 for one suite under setsid, so the child leads a new session and process
    group (pgid = sid = its pid) that a timeout can end as a whole. Argument list only, no shell.
    stdin is closed at once (a suite waiting for input gets EOF instead of hanging on ours).
    #>
    param(
        [Parameter(Mandatory)] [string[]] $ChildArguments,
        [Parameter(Mandatory)] [string] $WorkingDirectory,
        [Parameter(Mandatory)] [hashtable] $Environment
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new($script:SetsidExe)
    foreach ($arg in @(Get-PwshLaunchPrefix) + @('-NoProfile', '-NonInteractive') + $ChildArguments) { $psi.ArgumentList.Add($arg) }
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
    $process = [System.Diagnostics.Process]::Start($psi)
    $process.StandardInput.Close()
    $process
}

function ConvertTo-SafeLine {
    <# A suite's line made inert: colour sequences dropped, other control characters shown as '?'. #>
    param([string] $Line)
    ($Line -replace '\x1B\[[0-?]*[ -/]*[@-~]', '') -replace '[\x00-\x08\x0B-\x1F\x7F]', '?'
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
    <# Moves every line already read from one pipe to the log and, prefixed, to the host. True if any moved. #>
    param([Parameter(Mandatory)] $Pump, [Parameter(Mandatory)] [string] $Prefix)
    $moved = $false
    while (-not $Pump.Eof -and $Pump.Task.IsCompleted) {
        $line = $null
        try { $line = $Pump.Task.GetAwaiter().GetResult() } catch { $line = $null }
        if ($null -eq $line) { $Pump.Eof = $true; break }
        $safe = ConvertTo-SafeLine -Line $line
        $Pump.Log.WriteLine($safe)
        $Pump.Tail.Enqueue($safe)
        while ($Pump.Tail.Count -gt 15) { $null = $Pump.Tail.Dequeue() }
        Write-Host "$Prefix$safe"
        $moved = $true
        $Pump.Task = $Pump.Reader.ReadLineAsync()
    }
    $moved
}

function Wait-SuiteChild {
    <#
    Streams the child's stdout and stderr live (each line prefixed) until it exits and its pipes
    close, or until the suite's time is up: then the whole suite (group, session, descendants,
    anything naming its temp root) is ended with TERM, then KILL. Returns ExitCode, TimedOut,
    Survivors and the tails of both pipes.
    #>
    param(
        [Parameter(Mandatory)] [System.Diagnostics.Process] $Process,
        [Parameter(Mandatory)] [string] $Prefix,
        [Parameter(Mandatory)] [int] $TimeoutSeconds,
        [Parameter(Mandatory)] [string] $RootPath,
        [Parameter(Mandatory)] [string] $LogDirectory
    )
    $pumps = @(
        New-StreamPump -Reader $Process.StandardOutput -LogPath (Join-Path $LogDirectory 'stdout.log')
        New-StreamPump -Reader $Process.StandardError -LogPath (Join-Path $LogDirectory 'stderr.log')
    )
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $timedOut = $false; $survivors = @(); $exitedAt = $null
    try {
        while ($true) {
            $moved = $false
            foreach ($pump in $pumps) { if (Invoke-StreamPump -Pump $pump -Prefix $Prefix) { $moved = $true } }
            if ($Process.HasExited) {
                if ($null -eq $exitedAt) { $exitedAt = $clock.Elapsed.TotalSeconds }
                # A leftover grandchild may hold the pipes open; the leak census deals with it.
                if (-not ($pumps | Where-Object { -not $_.Eof }) -or $clock.Elapsed.TotalSeconds - $exitedAt -gt $script:PipeDrainSeconds) { break }
            } elseif (-not $timedOut -and $clock.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
                $timedOut = $true
                Write-Host "!!! $($Prefix.Trim()) ran past ${TimeoutSeconds}s: ending its process group (TERM, then KILL)"
                $survivors = @((Stop-SuiteProcess -LeaderPid $Process.Id -RootPath $RootPath).Survivors)
                if ($survivors) { break }   # something not even SIGKILL ends (D state): do not wait forever
            }
            if (-not $moved) { Start-Sleep -Milliseconds 50 }
        }
    } finally {
        foreach ($pump in $pumps) { $pump.Log.Dispose() }
    }
    [pscustomobject]@{
        ExitCode   = if ($Process.HasExited) { $Process.ExitCode } else { $null }
        TimedOut   = $timedOut
        Survivors  = $survivors
        StdoutTail = @($pumps[0].Tail)
        StderrTail = @($pumps[1].Tail)
    }
}
