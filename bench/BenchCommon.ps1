# Helpers for bench/Invoke-Benchmark.ps1: statistics, the by-hand QEMU/QMP baseline, process
# handling scoped to the benchmark's own home, and the child-pwsh runner. Dot-sourced; defines functions and
# compiles one tiny P/Invoke type (the thread CPU clock), nothing else.

Set-StrictMode -Version 3.0

$script:Invariant = [System.Globalization.CultureInfo]::InvariantCulture

#region Statistics

function Get-Quantile {
    # Linear interpolation between closest ranks (the common "type 7" definition) on sorted data.
    param([double[]] $Sorted, [double] $P)
    if ($Sorted.Count -eq 1) { return $Sorted[0] }
    $h = ($Sorted.Count - 1) * $P
    $lo = [Math]::Floor($h)
    $hi = [Math]::Ceiling($h)
    $Sorted[$lo] + ($h - $lo) * ($Sorted[$hi] - $Sorted[$lo])
}

function Get-Summary {
    <# Median and spread of a sample (milliseconds unless stated), rounded for the report. #>
    param([Parameter(Mandatory)] [double[]] $Samples, [int] $Digits = 2)
    if ($Samples.Count -eq 0) { throw 'no samples' }
    $sorted = [double[]] ($Samples | Sort-Object)
    [ordered] @{
        n       = $sorted.Count
        median  = [Math]::Round((Get-Quantile $sorted 0.5), $Digits)
        min     = [Math]::Round($sorted[0], $Digits)
        max     = [Math]::Round($sorted[-1], $Digits)
        q1      = [Math]::Round((Get-Quantile $sorted 0.25), $Digits)
        q3      = [Math]::Round((Get-Quantile $sorted 0.75), $Digits)
        samples = @($Samples | ForEach-Object { [Math]::Round($_, $Digits) })
    }
}

function Get-Verdict {
    <# Compares a value with a target: 'max' (value <= target) or 'below' (value < target). #>
    param([double] $Value, [double] $Target, [ValidateSet('max', 'below')] [string] $Kind, [string] $Unit = '')
    $met = if ($Kind -eq 'max') { $Value -le $Target } else { $Value -lt $Target }
    $by = $Value - $Target
    $pct = if ($Target -ne 0) { 100 * $by / $Target } else { 0 }
    $text = if ($met) {
        'met (margin {0}{1}, {2:0.#}% under)' -f (Format-Number (-$by)), $Unit, (-$pct)
    } else {
        'MISSED by {0}{1} ({2:0.#}% over)' -f (Format-Number $by), $Unit, $pct
    }
    [ordered] @{ met = $met; target = $Target; comparison = $(if ($Kind -eq 'max') { '<=' } else { '<' }); by = [Math]::Round($by, 3); text = $text }
}

function Format-Number {
    param([double] $Value)
    if ([Math]::Abs($Value) -ge 100) { return $Value.ToString('0', $script:Invariant) }
    if ([Math]::Abs($Value) -ge 10) { return $Value.ToString('0.0', $script:Invariant) }
    $Value.ToString('0.00', $script:Invariant)
}

function Format-Summary {
    <# "median (min-max)" for the markdown table. #>
    param($Summary, [string] $Unit = ' ms')
    '{0}{3} ({1}-{2})' -f (Format-Number $Summary.median), (Format-Number $Summary.min), (Format-Number $Summary.max), $Unit
}

if (-not ('BenchThreadClock' -as [type])) {
    Add-Type -TypeDefinition @'
using System.Runtime.InteropServices;
public static class BenchThreadClock {
    [StructLayout(LayoutKind.Sequential)] private struct Timespec { public long Seconds; public long Nanoseconds; }
    [DllImport("libc.so.6")] private static extern int clock_gettime(int clock, out Timespec value);
    /// <summary>CLOCK_THREAD_CPUTIME_ID: this thread's CPU time, including the current time slice.</summary>
    public static long Nanoseconds() { clock_gettime(3, out var t); return t.Seconds * 1000000000L + t.Nanoseconds; }
}
'@
}

function Get-ThreadSchedStat {
    <#
    This thread's CPU time (clock_gettime: exact, unlike schedstat's first field, which lags up to
    a scheduler tick) and the time it spent runnable but waiting for a CPU (schedstat's run_delay:
    what the machine's other load costs us), both in nanoseconds.
    #>
    $fields = [System.IO.File]::ReadAllText('/proc/thread-self/schedstat').Split(' ')
    [long[]] @([BenchThreadClock]::Nanoseconds(), [long] $fields[1])
}

function Measure-Call {
    <#
    Runs the script block on this thread and returns its output with three times in ms: Wall
    (Stopwatch), Cpu (this thread on a CPU) and Wait (this thread runnable but not running: the
    machine's other load). Wall - Cpu - Wait is time blocked (I/O, fsync, QEMU, child processes).
    #>
    param([Parameter(Mandatory)] [scriptblock] $Body)
    # Innermost: the stopwatch, then the thread clock, then the schedstat reads (run_delay only
    # changes while this thread is not running, so reading it outside the window loses nothing).
    $wait0 = [long] [System.IO.File]::ReadAllText('/proc/thread-self/schedstat').Split(' ')[1]
    $cpu0 = [BenchThreadClock]::Nanoseconds()
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $output = & $Body
    $sw.Stop()
    $cpu1 = [BenchThreadClock]::Nanoseconds()
    $wait1 = [long] [System.IO.File]::ReadAllText('/proc/thread-self/schedstat').Split(' ')[1]
    [pscustomobject] @{
        Wall   = $sw.Elapsed.TotalMilliseconds
        Cpu    = ($cpu1 - $cpu0) / 1e6
        Wait   = ($wait1 - $wait0) / 1e6
        Output = $output
    }
}

function Get-CallSummary {
    <# Summaries of Measure-Call results: wall, on-CPU, waiting for a CPU, and wall less that wait. #>
    param([Parameter(Mandatory)] [object[]] $Calls, [double] $Divisor = 1, [int] $Digits = 2)
    [ordered] @{
        wall          = Get-Summary -Digits $Digits @($Calls | ForEach-Object { $_.Wall / $Divisor })
        onCpu         = Get-Summary -Digits $Digits @($Calls | ForEach-Object { $_.Cpu / $Divisor })
        waitingForCpu = Get-Summary -Digits $Digits @($Calls | ForEach-Object { $_.Wait / $Divisor })
        wallLessWait  = Get-Summary -Digits $Digits @($Calls | ForEach-Object { ($_.Wall - $_.Wait) / $Divisor })
    }
}

#endregion

#region Processes of the benchmark's home

function Get-ProcessStatState {
    <# The state letter of /proc/<pid>/stat, or $null when the process is gone. #>
    param([int] $ProcessId)
    try { $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return $null }
    $close = $text.LastIndexOf(')')
    if ($close -lt 0) { return $null }
    $text[$close + 2]
}

function Test-ProcessGone {
    <#
    True when the process has exited: /proc/<pid> is gone, or its leader is a zombie (or dead) and
    no other thread is left. A QEMU's leader turns 'Z' while its other threads are still tearing
    down (holding its sockets and its disk's lock); the module waits for them too, so does this.
    #>
    param([int] $ProcessId)
    $state = Get-ProcessStatState $ProcessId
    if ($null -eq $state) { return $true }
    if ($state -notin 'Z', 'X', 'x') { return $false }
    try { return @([System.IO.Directory]::EnumerateDirectories("/proc/$ProcessId/task")).Count -le 1 } catch { return $true }
}

function Get-ProcessByMarker {
    <# Pids of live processes whose command line contains the marker (a path under the bench home). #>
    param([Parameter(Mandatory)] [string] $Marker)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline") } catch { continue }
        if ($cmd.Contains($Marker) -and -not (Test-ProcessGone $procId)) { $procId }
    }
}

function Stop-ProcessHard {
    <#
    SIGKILL to the given pids, each only if its command line still names the marker (never a reused
    pid), then waits until every one of them is gone (or a zombie).
    #>
    param([Parameter(Mandatory)] [int[]] $ProcessId, [Parameter(Mandatory)] [string] $Marker, [int] $TimeoutSeconds = 20)
    foreach ($id in $ProcessId) {
        try { $cmd = [System.IO.File]::ReadAllText("/proc/$id/cmdline") } catch { continue }
        if (-not $cmd.Contains($Marker)) { continue }
        try { [System.Diagnostics.Process]::GetProcessById($id).Kill() } catch { }
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    foreach ($id in $ProcessId) {
        while (-not (Test-ProcessGone $id)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "process $id is still alive after SIGKILL" }
            [System.Threading.Thread]::Sleep(2)
        }
    }
}

#endregion

#region QEMU and QMP by hand

function Connect-QmpByHand {
    <#
    The by-hand QMP handshake on a plain unix socket: connect (retrying 1 ms apart while the socket
    is not there yet), read the greeting, negotiate capabilities. Returns a small session object.
    #>
    param([Parameter(Mandatory)] [string] $Path, [int] $TimeoutMilliseconds = 10000)
    $deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMilliseconds)
    while ($true) {
        $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix,
            [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
        try {
            $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($Path))
            break
        } catch {
            $socket.Dispose()
            if ([DateTime]::UtcNow -gt $deadline) { throw "cannot connect to QMP at ${Path}: $($_.Exception.Message)" }
            [System.Threading.Thread]::Sleep(1)
        }
    }
    $socket.ReceiveTimeout = $TimeoutMilliseconds
    $stream = [System.Net.Sockets.NetworkStream]::new($socket, $true)
    $session = [pscustomobject] @{
        Socket = $socket
        Stream = $stream
        Reader = [System.IO.StreamReader]::new($stream, [System.Text.UTF8Encoding]::new($false))
    }
    $greeting = $session.Reader.ReadLine()
    if ($null -eq $greeting -or -not $greeting.Contains('"QMP"')) { Close-QmpByHand $session; throw "no QMP greeting on $Path" }
    $null = Invoke-QmpByHand $session 'qmp_capabilities'
    $session
}

function Invoke-QmpByHand {
    <#
    Sends one command and returns the reply's "return" as a JsonElement clone (events are skipped).
    With -AllowClose, a connection that closes instead of answering (QEMU quitting) returns $null.
    #>
    param([Parameter(Mandatory)] $Session, [Parameter(Mandatory)] [string] $Command, [switch] $AllowClose)
    $bytes = [System.Text.Encoding]::UTF8.GetBytes("{`"execute`":`"$Command`"}`n")
    $Session.Stream.Write($bytes, 0, $bytes.Length)
    while ($true) {
        try { $line = $Session.Reader.ReadLine() } catch { if ($AllowClose) { return $null } throw }
        if ($null -eq $line) { if ($AllowClose) { return $null } throw "QMP closed while waiting for the reply to $Command" }
        if ($line.Contains('"event"')) { continue }
        $doc = [System.Text.Json.JsonDocument]::Parse($line)
        try {
            $root = $doc.RootElement
            $err = [System.Text.Json.JsonElement]::new()
            if ($root.TryGetProperty('error', [ref] $err)) { throw "QMP $Command failed: $($err.ToString())" }
            $ret = [System.Text.Json.JsonElement]::new()
            if ($root.TryGetProperty('return', [ref] $ret)) { return $ret.Clone() }
        } finally { $doc.Dispose() }
    }
}

function Close-QmpByHand {
    param($Session)
    if ($null -eq $Session) { return }
    $Session.Reader.Dispose()
    $Session.Stream.Dispose()
    $Session.Socket.Dispose()
}

function Wait-QmpRunningByHand {
    <# Connect, handshake, query-status until it says running (it does at once after -daemonize). #>
    param([Parameter(Mandatory)] [string] $ApiSocket)
    $qmp = Connect-QmpByHand -Path $ApiSocket
    try {
        while ($true) {
            $status = Invoke-QmpByHand $qmp 'query-status'
            if ($status.GetProperty('running').GetBoolean()) { return }
            [System.Threading.Thread]::Sleep(1)
        }
    } finally { Close-QmpByHand $qmp }
}

function Get-StatsByHand {
    <#
    What Get-MyVmStats reads, by hand, for each VM: /proc/<pid>/stat (CPU ticks, RSS) and, over a
    plain QMP connection, query-blockstats (disk bytes). The baseline for inspection at scale.
    #>
    param([Parameter(Mandatory)] [int[]] $ProcessId, [Parameter(Mandatory)] [string[]] $ApiSocket)
    for ($i = 0; $i -lt $ProcessId.Count; $i++) {
        $stat = [System.IO.File]::ReadAllText("/proc/$($ProcessId[$i])/stat")
        $qmp = Connect-QmpByHand -Path $ApiSocket[$i]
        try { $disk = Invoke-QmpByHand $qmp 'query-blockstats' } finally { Close-QmpByHand $qmp }
        [pscustomobject] @{ Stat = $stat.Length; Devices = $disk.GetArrayLength() }
    }
}

function Suspend-GuestByHand {
    <# QMP 'stop' (pauses the vCPUs; the QEMU process keeps running and answering QMP). #>
    param([Parameter(Mandatory)] [string] $ApiSocket)
    $qmp = Connect-QmpByHand -Path $ApiSocket
    try { $null = Invoke-QmpByHand $qmp 'stop' } finally { Close-QmpByHand $qmp }
}

function Start-QemuByHand {
    <#
    The by-hand start: create the runtime folder, run qemu-system-x86_64 with the given argument
    list (it daemonizes; the launcher exits once QEMU is initialised and listening), then wait for
    QMP query-status to report running. Returns the daemon's pid (from its -pidfile).
    #>
    param([Parameter(Mandatory)] [string] $Qemu, [Parameter(Mandatory)] [string[]] $ArgumentList,
          [Parameter(Mandatory)] [string] $RuntimeDirectory, [Parameter(Mandatory)] [string] $ApiSocket, [Parameter(Mandatory)] [string] $PidFile)
    $null = [System.IO.Directory]::CreateDirectory($RuntimeDirectory)
    $psi = [System.Diagnostics.ProcessStartInfo]::new($Qemu)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $stderr = $p.StandardError.ReadToEndAsync()
    $null = $p.StandardOutput.ReadToEnd()
    $p.WaitForExit()
    if ($p.ExitCode -ne 0) { throw "QEMU by hand exited with $($p.ExitCode): $($stderr.Result)" }
    $p.Dispose()
    Wait-QmpRunningByHand -ApiSocket $ApiSocket
    [int] [System.IO.File]::ReadAllText($PidFile).Trim()
}

function Stop-QemuByHand {
    <#
    The by-hand stop, like the module's -Force: QMP quit, wait until the process is gone with all
    its threads (polling /proc 1 ms apart), then remove the runtime folder (sockets; QEMU removes
    its pid file).
    #>
    param([Parameter(Mandatory)] [int] $ProcessId, [Parameter(Mandatory)] [string] $ApiSocket, [Parameter(Mandatory)] [string] $RuntimeDirectory)
    $qmp = Connect-QmpByHand -Path $ApiSocket
    try { $null = Invoke-QmpByHand $qmp 'quit' -AllowClose } finally { Close-QmpByHand $qmp }
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while (-not (Test-ProcessGone $ProcessId)) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "QEMU $ProcessId did not quit" }
        [System.Threading.Thread]::Sleep(1)
    }
    if ([System.IO.Directory]::Exists($RuntimeDirectory)) { [System.IO.Directory]::Delete($RuntimeDirectory, $true) }
}

#endregion

#region Child pwsh

function Invoke-ChildPwsh {
    <#
    Runs `dotnet pwsh -NoProfile -NonInteractive -Command <script>` in the repository (where the
    local tool manifest is), returns its output lines and the whole-process wall time.
    #>
    param([Parameter(Mandatory)] [string] $Dotnet, [Parameter(Mandatory)] [string] $WorkingDirectory,
          [Parameter(Mandatory)] [string] $Command, [int] $TimeoutSeconds = 120)
    $psi = [System.Diagnostics.ProcessStartInfo]::new($Dotnet)
    foreach ($a in 'pwsh', '-NoProfile', '-NonInteractive', '-Command', $Command) { $psi.ArgumentList.Add($a) }
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $out = $p.StandardOutput.ReadToEndAsync()
    $err = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
        $p.Kill($true)
        throw "child pwsh did not finish within $TimeoutSeconds s"
    }
    $p.WaitForExit()
    $sw.Stop()
    $result = [pscustomobject] @{
        ExitCode = $p.ExitCode
        WallMilliseconds = $sw.Elapsed.TotalMilliseconds
        Output = $out.Result
        Error = $err.Result
    }
    $p.Dispose()
    $result
}

#endregion

#region The guest agent by hand

function Invoke-GuestExecByHand {
    <#
    The textbook guest-exec exchange over a VM's agent socket, as a script would do it without the
    module: connect, guest-sync-delimited (skip to the 0xFF sentinel, read the reply), guest-exec
    with captured output, then guest-exec-status until it says exited. Returns the exit code.
    #>
    param([Parameter(Mandatory)] [string] $AgentSocket, [Parameter(Mandatory)] [string] $Path, [string[]] $Arguments = @())
    $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
    try {
        $socket.ReceiveTimeout = 10000
        $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($AgentSocket))
        $stream = [System.Net.Sockets.NetworkStream]::new($socket, $false)
        $send = { param($Object) $bytes = [System.Text.Encoding]::UTF8.GetBytes(($Object | ConvertTo-Json -Compress -Depth 5) + "`n"); $stream.Write($bytes, 0, $bytes.Length) }
        $readLine = {
            $buffer = [System.IO.MemoryStream]::new()
            while (($b = $stream.ReadByte()) -ne 10) {
                if ($b -lt 0) { throw 'agent closed the connection' }
                if ($b -eq 0xFF) { $buffer.SetLength(0); continue }
                $buffer.WriteByte([byte] $b)
            }
            [System.Text.Encoding]::UTF8.GetString($buffer.ToArray()) | ConvertFrom-Json
        }
        $id = Get-Random -Minimum 1 -Maximum 1000000
        & $send @{ execute = 'guest-sync-delimited'; arguments = @{ id = $id } }
        while ((& $readLine).return -ne $id) { }
        & $send @{ execute = 'guest-exec'; arguments = @{ path = $Path; arg = @($Arguments); 'capture-output' = $true } }
        $guestPid = (& $readLine).return.pid
        do {
            & $send @{ execute = 'guest-exec-status'; arguments = @{ pid = $guestPid } }
            $status = (& $readLine).return
        } until ($status.exited)
        $status.exitcode
    }
    finally { $socket.Dispose() }
}

#endregion
