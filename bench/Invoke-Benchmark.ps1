#requires -Version 7.4
<#
.SYNOPSIS
    Measures what the MyHypervisor module costs next to driving QEMU by hand; writes results.{md,json}.
.DESCRIPTION
    Run by build/tasks/Bench.ps1 (`dotnet pwsh ./build.ps1 -Task Bench`) in a child pwsh, after
    Bootstrap and Build. Everything it creates lives under -BenchHome (MYHV_HOME is <BenchHome>/m,
    the by-hand scratch folder is <BenchHome>/h), and everything is removed at the end, also on
    failure. Figures, each measured several times after a warm-up, median and spread reported:
      1. start overhead   Start-MyVm vs the same QEMU command line launched by hand + QMP query-status
      2. stop             Stop-MyVm -Force vs QMP quit by hand + wait for exit + remove the run folder
      3. inspection       Get-MyVm, Get-MyVmStats with 1/10/50 running VMs; reconciling 1/10/50 killed VMs
      4. rollback         failure at start.hypervisor-launch to the cmdlet's return, vs a successful start
      5. import           Import-Module in a fresh `dotnet pwsh` vs an empty module
      6. guest command    Invoke-MyVmCommand -FilePath /bin/true vs the same guest-exec exchange by hand
      7. guest copy       Copy-MyVmFile throughput, 20 MiB into and out of the guest (MiB/s)
    Every timed call also records, from /proc/thread-self/schedstat, how long the measuring thread
    was on a CPU and how long it waited for one (the machine's other load), so a shared, busy
    machine's share of a figure is visible next to it.
    Exit code 0 when every figure was measured (targets met or missed are reported, not failed);
    1 when a figure could not be measured.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $BenchHome,
    [string] $OutputDirectory = $PSScriptRoot,
    [ValidateRange(3, 50)] [int] $Repetitions = 11,
    [ValidateRange(3, 50)] [int] $ImportRepetitions = 7,
    [int[]] $ScaleCounts = @(1, 10, 50),
    [ValidateRange(3, 50)] [int] $ScaleRepetitions = 7,
    [ValidateRange(1, 50)] [int] $ReconcileRepetitions = 5,
    # Which parts to run (all by default); a partial run is for profiling, and its files are partial too.
    [ValidateSet('import', 'start-stop', 'rollback', 'scale', 'guest', 'checkpoint', 'density', 'runner', 'fleet')] [string[]] $Section = @('import', 'start-stop', 'rollback', 'scale', 'guest', 'checkpoint', 'density', 'runner', 'fleet'),
    # Rounds of each 20 MiB Copy-MyVmFile (each takes tens of seconds under TCG).
    [ValidateRange(1, 20)] [int] $CopyRepetitions = 3,
    # The module to measure (default: the built out/MyHypervisor), e.g. to compare another build.
    [string] $ModuleManifest
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot 'CheckpointBench.ps1')
. (Join-Path $PSScriptRoot 'Density.ps1')

$repoRoot = Split-Path -Parent $PSScriptRoot
$manifest = if ($ModuleManifest) { [System.IO.Path]::GetFullPath($ModuleManifest) } else { Join-Path $repoRoot 'out/MyHypervisor/MyHypervisor.psd1' }
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$startedAt = [DateTimeOffset]::UtcNow
$BenchHome = [System.IO.Path]::GetFullPath($BenchHome)
$moduleHome = Join-Path $BenchHome 'm'
$handHome = Join-Path $BenchHome 'h'
$marker = "$BenchHome/"
$sectionErrors = [ordered] @{}
$figures = [ordered] @{}
$loadSamples = [System.Collections.Generic.List[object]]::new()

function Write-BenchLine([string] $Text) {
    Write-Host ('[bench {0,6:0.0}s] {1}' -f $clock.Elapsed.TotalSeconds, $Text)
}

function Get-LoadSample([string] $When) {
    # The machine is shared: record the load average and how many QEMU / pwsh processes are not ours.
    $others = 0; $pwshCount = 0
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
        try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline") } catch { continue }
        if ($cmd.StartsWith('/usr/bin/qemu-system') -and -not $cmd.Contains($marker)) { $others++ }
        if ($cmd.Contains('pwsh') -and $procId -ne $PID) { $pwshCount++ }
    }
    $avg = ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2]
    $sample = [ordered] @{ when = $When; elapsedSeconds = [Math]::Round($clock.Elapsed.TotalSeconds, 1); loadavg = ($avg -join ' '); otherQemuProcesses = $others; otherPwshProcesses = $pwshCount }
    $loadSamples.Add($sample)
    Write-BenchLine "load: $($sample.loadavg) (other QEMU: $others, other pwsh: $pwshCount)"
}

function Invoke-Section([string] $Name, [scriptblock] $Body) {
    if ($Name -notin $Section) { return }
    Write-BenchLine "== $Name"
    Get-LoadSample "before $Name"
    try { & $Body }
    catch {
        $sectionErrors[$Name] = "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage)"
        Write-BenchLine "!! $Name failed: $($_.Exception.Message)"
        Write-Host $_.ScriptStackTrace
    }
}

function Get-RuntimeMarker([string] $Name) { "$moduleHome/run/$Name/" }

function Assert-VmStatus([string[]] $Name, [string] $Status) {
    $vms = @(Get-MyVm -Name $Name)
    $wrong = @($vms | Where-Object Status -ne $Status)
    if ($vms.Count -ne $Name.Count -or $wrong.Count -gt 0) {
        throw "expected $($Name.Count) VM(s) $Status, got: $(($vms | ForEach-Object { "$($_.Name)=$($_.Status) $($_.StatusReason)" }) -join '; ')"
    }
    $vms
}

function New-CallList { , [System.Collections.Generic.List[object]]::new() }

function Get-Ratio([double] $Numerator, [double] $Denominator, [int] $Digits = 3) {
    if ($Denominator -le 0) { return $null }
    [Math]::Round($Numerator / $Denominator, $Digits)
}

function New-PairedFigure {
    <# A figure that compares the module with a baseline measured in the same rounds. #>
    param([string] $Title, $Module, $Baseline, [double] $Target, [string] $TargetText, [string] $Method)
    $m = Get-CallSummary $Module; $b = Get-CallSummary $Baseline
    $ratio = Get-Ratio $m.wall.median $b.wall.median
    $adjusted = Get-Ratio $m.wallLessWait.median $b.wallLessWait.median
    $paired = @(for ($k = 0; $k -lt [Math]::Min($Module.Count, $Baseline.Count); $k++) { $Module[$k].Wall / $Baseline[$k].Wall })
    [ordered] @{
        title         = $Title
        unit          = 'ms'
        module        = $m
        byHand        = $b
        ratio         = $ratio
        pairedRatio   = Get-Summary -Digits 3 $paired
        adjustedRatio = $adjusted
        verdict       = $(if ($Target) { Get-Verdict -Value $ratio -Target $Target -Kind max } else { $null })
        adjustedVerdict = $(if ($Target -and $null -ne $adjusted) { Get-Verdict -Value $adjusted -Target $Target -Kind max } else { $null })
        target        = $TargetText
        method        = $Method
    }
}

function Get-Machine {
    $memKb = [long] (([System.IO.File]::ReadAllLines('/proc/meminfo') | Where-Object { $_ -like 'MemTotal:*' }) -replace '\D', '')
    $cpuModel = ([System.IO.File]::ReadAllLines('/proc/cpuinfo') | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
    $qemuVersion = (& qemu-system-x86_64 --version | Select-Object -First 1)
    $commit = try { (& git -C $repoRoot rev-parse --short HEAD 2>$null) } catch { $null }
    $dirty = try { @(& git -C $repoRoot status --porcelain -- src 2>$null).Count } catch { 0 }
    [ordered] @{
        cores       = [Environment]::ProcessorCount
        cpuModel    = $cpuModel
        memoryGiB   = [Math]::Round($memKb / 1MB, 1)
        kernel      = [System.IO.File]::ReadAllText('/proc/sys/kernel/osrelease').Trim()
        qemu        = $qemuVersion
        pwsh        = $PSVersionTable.PSVersion.ToString()
        dotnet      = [System.Runtime.InteropServices.RuntimeInformation]::FrameworkDescription
        myhvAccel   = $(if ($env:MYHV_ACCEL) { $env:MYHV_ACCEL } else { 'auto (unset)' })
        accelerator = $null
        commit      = $(if ($commit) { "$commit$(if ($dirty) { " + uncommitted changes in src/ ($dirty files)" })" } else { 'unknown' })
    }
}

$machine = Get-Machine
Write-BenchLine "machine: $($machine.cores) cores, $($machine.memoryGiB) GiB, kernel $($machine.kernel), $($machine.qemu)"
Remove-Item Env:MYHV_FAILPOINTS -ErrorAction Ignore
$null = New-Item -ItemType Directory -Force -Path $moduleHome, $handHome
$env:MYHV_HOME = $moduleHome

try {
    #region 5. Module import (first: no VM of ours runs yet)
    Invoke-Section 'import' {
        $dotnet = (Get-Command -Name dotnet -CommandType Application | Select-Object -First 1).Source
        $emptyDir = Join-Path $BenchHome 'empty/BenchEmpty'
        $null = New-Item -ItemType Directory -Force -Path $emptyDir
        Set-Content -LiteralPath (Join-Path $emptyDir 'BenchEmpty.psm1') -Value '' -NoNewline
        Set-Content -LiteralPath (Join-Path $emptyDir 'BenchEmpty.psd1') -Value @"
@{
    RootModule = 'BenchEmpty.psm1'
    ModuleVersion = '1.0.0'
    GUID = 'a4a7b0a4-5b3e-4f63-9c4e-0d6c2b1e7f10'
    FunctionsToExport = @()
    CmdletsToExport = @()
    VariablesToExport = @()
    AliasesToExport = @()
}
"@
        $targets = [ordered] @{
            module = @{ Path = $manifest; Name = 'MyHypervisor'; Commands = @((Import-PowerShellDataFile -LiteralPath $manifest).CmdletsToExport).Count }
            empty  = @{ Path = (Join-Path $emptyDir 'BenchEmpty.psd1'); Name = 'BenchEmpty'; Commands = 0 }
        }
        $calls = @{ module = New-CallList; empty = New-CallList }
        $wall = @{ module = New-CallList; empty = New-CallList }
        for ($i = 0; $i -le $ImportRepetitions; $i++) {
            # Round 0 is the warm-up (file cache, dotnet tool resolution); the order alternates per round.
            $order = if ($i % 2) { 'module', 'empty' } else { 'empty', 'module' }
            foreach ($which in $order) {
                $t = $targets[$which]
                $script = "`$s0 = [System.IO.File]::ReadAllText('/proc/thread-self/schedstat').Split(' '); `$sw = [System.Diagnostics.Stopwatch]::StartNew(); " +
                    "Import-Module -Name '$($t.Path)' -ErrorAction Stop; `$sw.Stop(); `$s1 = [System.IO.File]::ReadAllText('/proc/thread-self/schedstat').Split(' '); " +
                    "`$m = Get-Module -Name '$($t.Name)'; if (-not `$m -or `$m.ExportedCommands.Count -ne $($t.Commands)) { exit 3 }; " +
                    "'IMPORT=' + ((@(`$sw.Elapsed.TotalMilliseconds, (([long] `$s1[0] - [long] `$s0[0]) / 1e6), (([long] `$s1[1] - [long] `$s0[1]) / 1e6)) | ForEach-Object { `$_.ToString([cultureinfo]::InvariantCulture) }) -join ';')"
                $run = Invoke-ChildPwsh -Dotnet $dotnet -WorkingDirectory $repoRoot -Command $script
                $line = ($run.Output -split "`n" | Where-Object { $_ -like 'IMPORT=*' } | Select-Object -First 1)
                if ($run.ExitCode -ne 0 -or -not $line) { throw "importing $which in a child pwsh failed (exit $($run.ExitCode)): $($run.Output) $($run.Error)" }
                if ($i -eq 0) { continue }
                $v = [double[]] @($line.Trim().Substring(7).Split(';') | ForEach-Object { [double]::Parse($_, $script:Invariant) })
                $calls[$which].Add([pscustomobject] @{ Wall = $v[0]; Cpu = $v[1]; Wait = $v[2] })
                $wall[$which].Add($run.WallMilliseconds)
            }
        }
        $f = New-PairedFigure -Title 'Module import' -Module $calls.module -Baseline $calls.empty -Target 0 -TargetText 'Import-Module < 500 ms (absolute); ratio reported' `
            -Method "Each round starts two fresh 'dotnet pwsh -NoProfile -NonInteractive -Command' children in the repository: one imports out/MyHypervisor/MyHypervisor.psd1, the other an empty module (a manifest with an empty .psm1) the same way; the order alternates per round. Inside the child a Stopwatch (and the thread's schedstat) surrounds Import-Module only; the parent also times the whole child process (start to exit). One warm-up round is discarded; $ImportRepetitions rounds measured."
        $f.verdict = Get-Verdict -Value $f.module.wall.median -Target 500 -Kind below -Unit ' ms'
        $f.adjustedVerdict = Get-Verdict -Value $f.module.wallLessWait.median -Target 500 -Kind below -Unit ' ms'
        $f.moduleProcessWall = Get-Summary $wall.module
        $f.emptyProcessWall = Get-Summary $wall.empty
        $f.processWallRatio = Get-Ratio $f.moduleProcessWall.median $f.emptyProcessWall.median
        $figures['import'] = $f
        Write-BenchLine ("import: module {0} ms (on CPU {1}, waiting for a CPU {2}), empty {3} ms; process wall {4} vs {5} ms" -f `
            $f.module.wall.median, $f.module.onCpu.median, $f.module.waitingForCpu.median, $f.byHand.wall.median, $f.moduleProcessWall.median, $f.emptyProcessWall.median)
    }
    #endregion

    Import-Module -Name $manifest -ErrorAction Stop

    #region 6 + 7. Work in the guest: a command round trip against guest-exec by hand, and file copy speed
    Invoke-Section 'guest' {
        $name = 'ga'
        $null = New-MyVm -Name $name -Image tiny -MemoryMiB 256 -Network None
        Start-MyVm -Name $name -Wait -TimeoutSeconds 240 -ErrorAction Stop
        $agentSocket = Join-Path $moduleHome "run/$name/agent.sock"
        # Warm-up of both paths (JIT, the guest's page cache for /bin/true), not measured.
        foreach ($i in 1..3) {
            $null = Invoke-MyVmCommand -Name $name -FilePath /bin/true -ErrorAction Stop
            $null = Invoke-GuestExecByHand -AgentSocket $agentSocket -Path /bin/true
        }
        $calls = @{ module = New-CallList; hand = New-CallList }
        foreach ($round in 1..$Repetitions) {
            $call = Measure-Call { Invoke-MyVmCommand -Name $name -FilePath /bin/true -ErrorAction Stop }
            if ($call.Output.ExitCode -ne 0) { throw "Invoke-MyVmCommand /bin/true exited $($call.Output.ExitCode)" }
            $calls.module.Add($call)
            $call = Measure-Call { Invoke-GuestExecByHand -AgentSocket $agentSocket -Path /bin/true }
            if ($call.Output -ne 0) { throw "guest-exec /bin/true by hand exited $($call.Output)" }
            $calls.hand.Add($call)
        }
        $figures['guestExec'] = New-PairedFigure -Title 'Command round trip in the guest' -Module $calls.module -Baseline $calls.hand -Target 1.5 -TargetText 'ratio <= 1.5' `
            -Method "A running tiny guest (256 MiB, TCG as above) with qemu-ga. Module: Invoke-MyVmCommand -Name $name -FilePath /bin/true (checks the VM's process, takes the agent lock, connects, guest-sync-delimited, guest-exec through setsid, guest-exec-status until exited). By hand: the same exchange in a PowerShell function over the agent socket (connect, guest-sync-delimited, guest-exec /bin/true, guest-exec-status polled back to back until exited). Interleaved, $Repetitions rounds after 3 warm-ups of each."
        $f = $figures['guestExec']
        Write-BenchLine ("guest exec: module {0} ms, by hand {1} ms, ratio {2}" -f $f.module.wall.median, $f.byHand.wall.median, $f.ratio)

        $file = Join-Path $BenchHome 'copy-20MiB.bin'
        $bytes = [byte[]]::new(20MB); [Random]::new(7).NextBytes($bytes); [System.IO.File]::WriteAllBytes($file, $bytes)
        $hash = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant()
        $back = Join-Path $BenchHome 'copy-back.bin'
        $speed = @{ in = [System.Collections.Generic.List[double]]::new(); out = [System.Collections.Generic.List[double]]::new() }
        foreach ($round in 1..$CopyRepetitions) {
            $in = Measure-Call { Copy-MyVmFile -Name $name -Path $file -Destination /tmp/copy.bin -Force -ErrorAction Stop -ProgressAction SilentlyContinue }
            if ($in.Output.Sha256 -ne $hash) { throw 'the copy into the guest has another hash' }
            $speed.in.Add(20 / ($in.Wall / 1000))
            $out = Measure-Call { Copy-MyVmFile -Name $name -Path /tmp/copy.bin -Destination $back -FromGuest -Force -ErrorAction Stop -ProgressAction SilentlyContinue }
            if ((Get-FileHash -LiteralPath $back -Algorithm SHA256).Hash.ToLowerInvariant() -ne $hash) { throw 'the copy out of the guest has another hash' }
            $speed.out.Add(20 / ($out.Wall / 1000))
        }
        $figures['guestCopy'] = [ordered] @{
            title  = 'Copy-MyVmFile throughput'
            unit   = 'MiB/s'
            toGuest = Get-Summary -Digits 3 $speed.in
            fromGuest = Get-Summary -Digits 3 $speed.out
            target = 'reported'
            method = "20 MiB of random bytes, Copy-MyVmFile into the guest's /tmp (tmpfs) and back out with -FromGuest, $CopyRepetitions rounds, SHA-256 checked on both ends by the cmdlet and again here. MiB/s = 20 / the cmdlet's wall time (hash checks, temporary name and rename included). The agent carries the data as base64 in JSON lines (1 MiB chunks); under TCG the guest's JSON parsing bounds the speed into the guest."
        }
        Write-BenchLine ("guest copy: into the guest {0} MiB/s, out {1} MiB/s" -f $figures.guestCopy.toGuest.median, $figures.guestCopy.fromGuest.median)
        Remove-MyVm -Name $name -Force -Confirm:$false
    }
    #endregion

    # 8. Boot-to-ready of the Debian image under TCG, median of 3 (a reference point): bench/DebianBoot.ps1 writes debian-boot.{md,json}.
    Invoke-Section 'guest' { & (Join-Path $PSScriptRoot 'DebianBoot.ps1') -BenchHome (Join-Path $BenchHome 'd') -OutputDirectory $OutputDirectory -ModuleManifest $manifest }
    # 8 + 9. Checkpoints (bench/CheckpointBench.ps1)
    Invoke-Section 'checkpoint' { $figures['checkpoint'] = Measure-CheckpointBench -Repetitions ([Math]::Min($Repetitions, 5)) }

    #region 1 + 2. Start and stop against QEMU by hand
    Invoke-Section 'start-stop' {
        $name = 'st'
        $null = New-MyVm -Name $name -Image tiny -MemoryMiB 128 -Network None
        # Warm-up: the first start in a home probes KVM (auto; cached per home) and creates the
        # overlay; the second start/stop warms the remaining code paths. Neither is measured.
        $probe = Measure-Call { Start-MyVm -Name $name -ErrorAction Stop }
        $vm = Assert-VmStatus $name 'Running'
        $machine.accelerator = $vm.Accelerator
        $cmdline = [System.IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline").TrimEnd([char] 0).Split([char] 0)
        Write-BenchLine ("warm-up start {0:0} ms (KVM probe and overlay), accelerator {1}" -f $probe.Wall, $vm.Accelerator)
        Stop-MyVm -Name $name -Force -ErrorAction Stop
        Start-MyVm -Name $name -ErrorAction Stop
        Stop-MyVm -Name $name -Force -ErrorAction Stop

        # The same command line by hand, with every path under the module's home moved to the scratch home.
        $qemu = $cmdline[0]
        $from = "$moduleHome/"; $to = "$handHome/"
        $handArgs = [string[]] @($cmdline | Select-Object -Skip 1 | ForEach-Object { $_.Replace($from, $to) })
        if (@($handArgs | Where-Object { $_.Contains($from) }).Count -gt 0 -or @($handArgs | Where-Object { $_.Contains($to) }).Count -lt 4) {
            throw "could not rewrite the QEMU command line: $($handArgs -join ' ')"
        }
        $handVmDir = Join-Path $handHome "vms/$name"
        $handRun = Join-Path $handHome "run/$name"
        $handApi = Join-Path $handRun 'api.sock'
        $handPidFile = Join-Path $handRun 'hypervisor.pid'
        $null = New-Item -ItemType Directory -Force -Path $handVmDir
        # Re-starts on both sides: the by-hand VM gets its own copy of the (existing) overlay.
        Copy-Item -LiteralPath (Join-Path $moduleHome "vms/$name/disk.qcow2") -Destination (Join-Path $handVmDir 'disk.qcow2')
        $handStart = { Start-QemuByHand -Qemu $qemu -ArgumentList $handArgs -RuntimeDirectory $handRun -ApiSocket $handApi -PidFile $handPidFile }
        $handPid = & $handStart
        Stop-QemuByHand -ProcessId $handPid -ApiSocket $handApi -RuntimeDirectory $handRun   # warm-up of the by-hand path

        $starts = @{ module = New-CallList; hand = New-CallList }
        $stops = @{ module = New-CallList; hand = New-CallList }
        for ($i = 1; $i -le $Repetitions; $i++) {
            $order = if ($i % 2) { 'module', 'hand' } else { 'hand', 'module' }
            foreach ($which in $order) {
                if ($which -eq 'module') {
                    $starts.module.Add((Measure-Call { Start-MyVm -Name $name -ErrorAction Stop }))
                    $null = Assert-VmStatus $name 'Running'
                    Start-Sleep -Milliseconds 250
                    $stops.module.Add((Measure-Call { Stop-MyVm -Name $name -Force -ErrorAction Stop }))
                    $after = Assert-VmStatus $name 'Stopped'
                    if ("$($after.StopMethod)" -ne 'HypervisorQuit') { throw "Stop-MyVm -Force stopped by $($after.StopMethod), not HypervisorQuit" }
                } else {
                    $call = Measure-Call $handStart
                    $handPid = [int] $call.Output
                    $starts.hand.Add($call)
                    if (Test-ProcessGone $handPid) { throw 'the QEMU started by hand is not running' }
                    Start-Sleep -Milliseconds 250
                    $stops.hand.Add((Measure-Call { Stop-QemuByHand -ProcessId $handPid -ApiSocket $handApi -RuntimeDirectory $handRun }))
                }
            }
            if (@(Get-ProcessByMarker -Marker $marker).Count -gt 0) { throw 'a QEMU of the benchmark is still running after its stop' }
        }
        $figures['start'] = New-PairedFigure -Title 'Start overhead' -Module $starts.module -Baseline $starts.hand -Target 1.1 -TargetText 'ratio <= 1.10' `
            -Method "Warm module in one long-lived pwsh. VM 'st' (tiny, 1 vCPU, 128 MiB, -Network None). Module: Start-MyVm (no -Wait), which returns after its own QMP query-status says running. By hand: the command line of the module's QEMU (read from /proc/<pid>/cmdline) with every path under MYHV_HOME moved to a scratch folder: create the runtime folder, run qemu-system-x86_64 (it daemonizes; System.Diagnostics.Process, wait for the launcher to exit), then a plain unix-socket QMP client: greeting, qmp_capabilities, query-status until running. Both are re-starts: the module's overlay exists (made during the warm-up) and the by-hand run uses a copy of it, so neither side creates an overlay. KVM probe and overlay creation happen in the discarded warm-up. $Repetitions paired rounds, the order alternating per round."
        $figures['stop'] = New-PairedFigure -Title 'Stop' -Module $stops.module -Baseline $stops.hand -Target 1.5 -TargetText 'ratio <= 1.5' `
            -Method "Each stop follows its start by 250 ms (the guest is booting in both cases). Module: Stop-MyVm -Force (QMP quit, wait for the process to exit, undo the run's artifacts, write the state; checked: StopMethod HypervisorQuit). By hand, the same way (QMP quit, not kill -9): connect + qmp_capabilities + quit on a plain unix socket, poll /proc 1 ms apart until the process is gone (the leader exited and no other thread is left: the module's own criterion, since a quitting QEMU's threads hold its sockets and disk lock a little longer), remove the runtime folder. $Repetitions paired rounds."
        foreach ($k in 'start', 'stop') {
            $f = $figures[$k]
            Write-BenchLine ("{0}: module {1} ms, by hand {2} ms, ratio {3} (less CPU wait: {4} vs {5} ms, ratio {6})" -f $k, $f.module.wall.median, $f.byHand.wall.median, $f.ratio, $f.module.wallLessWait.median, $f.byHand.wallLessWait.median, $f.adjustedRatio)
        }
    }
    #endregion

    #region 4. Failed-start rollback
    Invoke-Section 'rollback' {
        $name = 'st'
        if (-not (Get-MyVm -Name $name -ErrorAction SilentlyContinue)) {
            $null = New-MyVm -Name $name -Image tiny -MemoryMiB 128 -Network None
            Start-MyVm -Name $name -ErrorAction Stop; Stop-MyVm -Name $name -Force -ErrorAction Stop
        }
        function Invoke-TimedStart([switch] $Fail) {
            # Start-MyVm -Verbose; each verbose record is timestamped (and the thread's schedstat
            # read) as it arrives, so the time from any narrated moment to the return is known.
            $marks = [System.Collections.Generic.List[object]]::new()
            $startErrors = $null
            if ($Fail) { $env:MYHV_FAILPOINTS = 'start.hypervisor-launch=error' }
            try {
                $s0 = Get-ThreadSchedStat
                $sw = [System.Diagnostics.Stopwatch]::StartNew()
                Start-MyVm -Name $name -Verbose -ErrorAction SilentlyContinue -ErrorVariable startErrors 4>&1 |
                    ForEach-Object { $marks.Add([pscustomobject] @{ Ms = $sw.Elapsed.TotalMilliseconds; Sched = (Get-ThreadSchedStat); Text = "$_" }) }
                $sw.Stop()
                $s1 = Get-ThreadSchedStat
            } finally { Remove-Item Env:MYHV_FAILPOINTS -ErrorAction Ignore }
            [pscustomobject] @{
                Whole  = [pscustomobject] @{ Wall = $sw.Elapsed.TotalMilliseconds; Cpu = ($s1[0] - $s0[0]) / 1e6; Wait = ($s1[1] - $s0[1]) / 1e6 }
                End    = [pscustomobject] @{ Ms = $sw.Elapsed.TotalMilliseconds; Sched = $s1 }
                Marks  = $marks
                Errors = @($startErrors | Where-Object { $_ })
            }
        }
        $null = Invoke-TimedStart -Fail; Start-MyVm -Name $name -ErrorAction SilentlyContinue; Stop-MyVm -Name $name -Force   # warm-up
        $rollback = New-CallList; $failWhole = New-CallList; $okWhole = New-CallList
        for ($i = 1; $i -le $Repetitions; $i++) {
            $failed = Invoke-TimedStart -Fail
            $err = @($failed.Errors)
            if ($err.Count -ne 1 -or $err[0].FullyQualifiedErrorId -notlike 'VmStartFailed*' -or "$($err[0])" -notlike "*'hypervisor-launch'*") {
                throw "the fail point did not produce VmStartFailed at hypervisor-launch: $($err | ForEach-Object { $_.FullyQualifiedErrorId + ': ' + $_ })"
            }
            $failMark = $failed.Marks | Where-Object Text -like "*step 'hypervisor-launch' failed*" | Select-Object -First 1
            if (-not $failMark) { throw 'no narration of the failure at hypervisor-launch' }
            $null = Assert-VmStatus $name 'Failed'
            if (@(Get-ProcessByMarker -Marker (Get-RuntimeMarker $name)).Count -gt 0 -or (Test-Path -LiteralPath "$moduleHome/run/$name")) {
                throw 'the rollback left the QEMU process or the runtime folder behind'
            }
            $rollback.Add([pscustomobject] @{
                Wall = $failed.End.Ms - $failMark.Ms
                Cpu  = ($failed.End.Sched[0] - $failMark.Sched[0]) / 1e6
                Wait = ($failed.End.Sched[1] - $failMark.Sched[1]) / 1e6
            })
            $failWhole.Add($failed.Whole)

            $ok = Invoke-TimedStart
            if (@($ok.Errors).Count -gt 0) { throw "the successful start failed: $($ok.Errors[0])" }
            $null = Assert-VmStatus $name 'Running'
            $okWhole.Add($ok.Whole)
            Stop-MyVm -Name $name -Force -ErrorAction Stop
        }
        $f = New-PairedFigure -Title 'Failed-start rollback' -Module $rollback -Baseline $okWhole -Target 0 -TargetText 'none (reported against a successful start)' `
            -Method "MYHV_FAILPOINTS=start.hypervisor-launch=error (QEMU is running when it fires). Start-MyVm -Verbose with the verbose stream piped into a timestamping ForEach-Object (records arrive as they are written). 'From the failure' = the narration ""step 'hypervisor-launch' failed"" (the first line the rollback writes, right after the fail point threw) to the cmdlet's return; checked each time: one VmStartFailed error naming hypervisor-launch, state Failed, no QEMU and no runtime folder left. Compared with a successful Start-MyVm -Verbose of the same VM timed the same way (whole cmdlet), interleaved; $Repetitions rounds after a warm-up."
        $f.failingStartWhole = Get-CallSummary $failWhole
        $figures['rollback'] = $f
        Write-BenchLine ("rollback: {0} ms from failure to return (whole failing start {1} ms); successful start {2} ms" -f $f.module.wall.median, $f.failingStartWhole.wall.median, $f.byHand.wall.median)
        Remove-MyVm -Name $name -Force -Confirm:$false
    }
    #endregion

    #region 3. Inspection at scale and reconciliation
    Invoke-Section 'scale' {
        if (Get-MyVm -Name 'st' -ErrorAction SilentlyContinue) { Remove-MyVm -Name 'st' -Force -Confirm:$false }
        $counts = @($ScaleCounts | Sort-Object -Unique)
        $rows = [System.Collections.Generic.List[object]]::new()
        function Start-Paused([string[]] $Names) {
            # Started without -Wait, then paused by hand (QMP stop): only running QEMU processes are
            # needed, and 50 TCG guests booting on 2 cores would bury every figure in noise.
            foreach ($n in $Names) {
                Start-MyVm -Name $n -ErrorAction Stop
                Suspend-GuestByHand -ApiSocket "$moduleHome/run/$n/api.sock"
            }
        }
        for ($c = 0; $c -lt $counts.Count; $c++) {
            $count = $counts[$c]
            $names = [string[]] @(1..$count | ForEach-Object { 's{0:d2}' -f $_ })
            $existing = @(Get-MyVm | ForEach-Object Name)
            foreach ($n in $names | Where-Object { $_ -notin $existing }) { $null = New-MyVm -Name $n -Image tiny -MemoryMiB 128 -Network None }
            $toStart = @(Get-MyVm | Where-Object Status -ne 'Running' | ForEach-Object Name)
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            if ($toStart) { Start-Paused $toStart }
            Write-BenchLine ("{0} VMs running ({1} started and paused in {2:0.0} s)" -f $count, $toStart.Count, $sw.Elapsed.TotalSeconds)
            $null = Assert-VmStatus $names 'Running'
            $null = @(Get-MyVm); $null = @(Get-MyVmStats)   # warm-up at this size

            $get = New-CallList; $stats = New-CallList; $handStats = New-CallList; $reconcile = New-CallList
            $byName = @{}; foreach ($vm in Get-MyVm) { $byName[$vm.Name] = $vm.Pid }
            $vmPids = [int[]] @($names | ForEach-Object { $byName[$_] })
            $sockets = [string[]] @($names | ForEach-Object { "$moduleHome/run/$_/api.sock" })
            $null = @(Get-StatsByHand -ProcessId $vmPids -ApiSocket $sockets)   # warm-up
            for ($i = 1; $i -le $ScaleRepetitions; $i++) {
                $call = Measure-Call { @(Get-MyVm) }
                if (@($call.Output).Count -ne $count -or @($call.Output | Where-Object Status -ne 'Running').Count) { throw "Get-MyVm returned $(@($call.Output).Count) VMs, not $count running" }
                $get.Add($call)
                $call = Measure-Call { @(Get-MyVmStats) }
                if (@($call.Output).Count -ne $count) { throw "Get-MyVmStats returned $(@($call.Output).Count) objects, not $count" }
                $stats.Add($call)
                $call = Measure-Call { @(Get-StatsByHand -ProcessId $vmPids -ApiSocket $sockets) }
                if (@($call.Output).Count -ne $count) { throw "the by-hand stats returned $(@($call.Output).Count) objects, not $count" }
                $handStats.Add($call)
            }
            for ($r = 1; $r -le $ReconcileRepetitions; $r++) {
                $pids = [int[]] @(Get-MyVm | ForEach-Object Pid)
                Stop-ProcessHard -ProcessId $pids -Marker $marker
                $call = Measure-Call { @(Get-MyVm) }
                $notFailed = @($call.Output | Where-Object Status -ne 'Failed')
                if (@($call.Output).Count -ne $count -or $notFailed.Count) { throw "reconciling $count killed VMs: $($notFailed.Count) not Failed of $(@($call.Output).Count)" }
                foreach ($n in $names) { if (Test-Path -LiteralPath "$moduleHome/run/$n") { throw "reconciliation left $moduleHome/run/$n" } }
                $reconcile.Add($call)
                $last = ($c -eq $counts.Count - 1) -and ($r -eq $ReconcileRepetitions)
                if (-not $last) { Start-Paused $names }
            }
            $rows.Add([ordered] @{
                vms               = $count
                getMyVm           = Get-CallSummary $get
                getMyVmPerVm      = Get-CallSummary $get -Divisor $count -Digits 3
                getMyVmStats      = Get-CallSummary $stats
                getMyVmStatsPerVm = Get-CallSummary $stats -Divisor $count -Digits 3
                statsByHand       = Get-CallSummary $handStats
                statsByHandPerVm  = Get-CallSummary $handStats -Divisor $count -Digits 3
                reconcile         = Get-CallSummary $reconcile
                reconcilePerVm    = Get-CallSummary $reconcile -Divisor $count -Digits 3
            })
            Write-BenchLine ("{0} VMs: Get-MyVm {1} ms, Get-MyVmStats {2} ms, reconcile {3} ms" -f $count, $rows[-1].getMyVm.wall.median, $rows[-1].getMyVmStats.wall.median, $rows[-1].reconcile.wall.median)
        }
        $first = $rows[0]; $lastRow = $rows[-1]
        $flat = [ordered] @{}
        foreach ($k in 'getMyVmPerVm', 'getMyVmStatsPerVm', 'statsByHandPerVm', 'reconcilePerVm') {
            $ratio = Get-Ratio $lastRow[$k].wall.median $first[$k].wall.median
            $adjusted = Get-Ratio $lastRow[$k].wallLessWait.median $first[$k].wallLessWait.median
            $flat[$k] = [ordered] @{
                ratio = $ratio; verdict = Get-Verdict -Value $ratio -Target 1.5 -Kind max
                adjustedRatio = $adjusted; adjustedVerdict = $(if ($null -ne $adjusted) { Get-Verdict -Value $adjusted -Target 1.5 -Kind max } else { $null })
                onCpuRatio = Get-Ratio $lastRow[$k].onCpu.median $first[$k].onCpu.median
            }
        }
        $figures['scale'] = [ordered] @{
            title    = 'Inspection at scale'
            unit     = 'ms'
            rows     = $rows
            flatness = $flat
            target   = "per-VM cost at $($lastRow.vms) VMs <= 1.5 x per-VM cost at $($first.vms) VM(s)"
            method   = "VMs s01..s$('{0:d2}' -f $lastRow.vms) (tiny, 128 MiB: with 64 MiB this guest resets at once and QEMU exits; -Network None; accelerator as above), started with Start-MyVm (no -Wait) and each paused right away with a by-hand QMP 'stop', so the QEMU processes run but 50 TCG guests do not saturate the 2 cores. At each size (only that many VMs exist): one warm-up, then $ScaleRepetitions x Get-MyVm (all VMs; checked: all Running) and Get-MyVmStats (checked: one object per VM), interleaved with its by-hand baseline: for each VM, read /proc/<pid>/stat and query-blockstats over a plain QMP connection (what Get-MyVmStats reads), in a PowerShell loop. Reconciliation: SIGKILL to every QEMU of the home, wait until they are gone, then time the first Get-MyVm (checked: every VM Failed, runtime folders removed); the VMs are restarted (and paused) between rounds; $ReconcileRepetitions rounds per size. Per-VM cost = total / number of VMs."
        }
    }
    #endregion

    # Density and scale (bench/Density.ps1): memory per VM, several VMs at once, hundreds of VMs.
    Invoke-Section 'density' { $figures['density'] = Invoke-DensityBenchmark -Log ${function:Write-BenchLine} -ModuleHome $moduleHome -Errors $sectionErrors }
}
finally {
    Get-LoadSample 'end'
    Write-BenchLine '== cleanup'
    try {
        if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
            Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue
        }
    } catch { Write-BenchLine "cleanup through the module failed: $($_.Exception.Message)" }
    $left = @(Get-ProcessByMarker -Marker $marker)
    if ($left) {
        Write-BenchLine "killing leftover processes: $($left -join ', ')"
        try { Stop-ProcessHard -ProcessId $left -Marker $marker } catch { Write-BenchLine $_.Exception.Message }
    }
    Remove-Item Env:MYHV_HOME, Env:MYHV_FAILPOINTS -ErrorAction Ignore
}

# 8. The test runner: its cost per suite, and a cross-section of the project's suites in parallel against serial
#    (see bench/runner-results.md): Experience (8 suites, CPU-bound, no guest), Guest (3 suites that
#    boot a guest and wait on it), Console and Density (a guest's console; several small guests),
#    Fleet (host-exclusive: runs alone). Whole folders, about 3.5 minutes serial: the whole line
#    (19 minutes serial) would not fit the benchmark's 15.
$runnerProjectSet = @('Experience', 'Guest', 'Console', 'Density', 'Fleet') | ForEach-Object { Join-Path $repoRoot "tests/Pester/$_" }
Invoke-Section 'runner' { $figures['runner'] = & (Join-Path $PSScriptRoot 'RunnerOverhead.ps1') -ProjectPath $runnerProjectSet -OutputDirectory $OutputDirectory }

#region Results
$finishedAt = [DateTimeOffset]::UtcNow
$results = [ordered] @{
    date            = $startedAt.ToString('yyyy-MM-ddTHH:mm:ssZ')
    durationSeconds = [Math]::Round(($finishedAt - $startedAt).TotalSeconds, 1)
    machine         = $machine
    load            = $loadSamples
    figures         = $figures
    errors          = $sectionErrors
}
$null = New-Item -ItemType Directory -Force -Path $OutputDirectory
[System.IO.File]::WriteAllText((Join-Path $OutputDirectory 'results.json'), ($results | ConvertTo-Json -Depth 12) + "`n")

$md = [System.Text.StringBuilder]::new()
function Add-Line([string] $Text = '') { $null = $md.Append($Text).Append("`n") }
function Format-Ratio($Value) { if ($null -eq $Value) { 'n/a' } else { ([double] $Value).ToString('0.00', $script:Invariant) } }
function Format-Paired($Figure) { "$(Format-Ratio $Figure.ratio) (per round $(Format-Number $Figure.pairedRatio.min)-$(Format-Number $Figure.pairedRatio.max))" }

Add-Line '# MyHypervisor benchmark results'
Add-Line
Add-Line "Generated by ``dotnet pwsh ./build.ps1 -Task Bench`` (bench/Invoke-Benchmark.ps1) on $($results.date), in $($results.durationSeconds) s. Every sample: [results.json](results.json)."
Add-Line
Add-Line '## Machine'
Add-Line
Add-Line '| | |'
Add-Line '|---|---|'
Add-Line "| Cores | $($machine.cores) ($($machine.cpuModel)) |"
Add-Line "| Memory | $($machine.memoryGiB) GiB |"
Add-Line "| Acceleration used | $($machine.accelerator) (MYHV_ACCEL: $($machine.myhvAccel)) |"
Add-Line "| QEMU | $($machine.qemu) |"
Add-Line "| Kernel | $($machine.kernel) |"
Add-Line "| pwsh / .NET | $($machine.pwsh) / $($machine.dotnet) |"
Add-Line "| Commit | $($machine.commit) |"
Add-Line "| Load average (1/5/15 min) | $(($loadSamples | ForEach-Object { "$($_.when): $($_.loadavg) (other QEMU $($_.otherQemuProcesses), other pwsh $($_.otherPwshProcesses))" }) -join '<br>') |"
Add-Line
Add-Line 'The machine is shared: other engineers run tests (booting VMs) at the same time, so absolute times are noisy; the ratios compare figures measured side by side, interleaved, in the same run. The by-hand QMP client does the textbook handshake (read the greeting, send qmp_capabilities, wait, send the command, wait: three round trips); the module writes the negotiation and its command together (one round trip). Every timed call also records how long the measuring thread waited for a CPU (`/proc/thread-self/schedstat`), which is what the other load costs it; "less CPU wait" figures subtract that wait from the wall time, on both sides, to show the module''s cost apart from the load.'
Add-Line
Add-Line '## Results'
Add-Line
Add-Line 'Wall time, median (min-max) over the repetitions; quartiles and every sample are in results.json. The verdict is on the wall-time medians.'
Add-Line
Add-Line '| # | Figure | Module | Baseline | Ratio | Target | Result | Less CPU wait: ratio, result |'
Add-Line '|---|---|---|---|---|---|---|---|'
if ($figures.Contains('start')) {
    $f = $figures.start
    Add-Line "| 1 | Start-MyVm until QMP running (re-start) | $(Format-Summary $f.module.wall) | $(Format-Summary $f.byHand.wall) by hand | $(Format-Paired $f) | $($f.target) | $($f.verdict.text) | $(Format-Ratio $f.adjustedRatio), $($f.adjustedVerdict.text) |"
} else { Add-Line '| 1 | Start overhead | not measured | | | ratio <= 1.10 | ERROR | |' }
if ($figures.Contains('stop')) {
    $f = $figures.stop
    Add-Line "| 2 | Stop-MyVm -Force | $(Format-Summary $f.module.wall) | $(Format-Summary $f.byHand.wall) QMP quit by hand | $(Format-Paired $f) | $($f.target) | $($f.verdict.text) | $(Format-Ratio $f.adjustedRatio), $($f.adjustedVerdict.text) |"
} else { Add-Line '| 2 | Stop | not measured | | | ratio <= 1.5 | ERROR | |' }
if ($figures.Contains('scale')) {
    $f = $figures.scale
    $labels = [ordered] @{ getMyVmPerVm = 'Get-MyVm'; getMyVmStatsPerVm = 'Get-MyVmStats'; statsByHandPerVm = 'Stats by hand (baseline: /proc + QMP query-blockstats)'; reconcilePerVm = 'Reconcile killed VMs (first Get-MyVm)' }
    $n1 = $f.rows[0].vms; $nN = $f.rows[-1].vms
    foreach ($k in $labels.Keys) {
        $cells = ($f.rows | ForEach-Object { "$($_.vms) VM$(if ($_.vms -ne 1) { 's' }): $(Format-Summary $_[$k].wall)" }) -join '<br>'
        $isBaseline = $k -eq 'statsByHandPerVm'
        Add-Line "| 3 | $($labels[$k]), per VM | $cells | $n1 VM: $(Format-Summary $f.rows[0][$k].wall) | $(Format-Ratio $f.flatness[$k].ratio) ($nN vs $n1) | $(if ($isBaseline) { '(baseline)' } else { '<= 1.5' }) | $(if ($isBaseline) { 'reported' } else { $f.flatness[$k].verdict.text }) | $(Format-Ratio $f.flatness[$k].adjustedRatio)$(if (-not $isBaseline) { ", $($f.flatness[$k].adjustedVerdict.text)" }) |"
    }
} else { Add-Line '| 3 | Inspection at scale | not measured | | | per-VM flat within 1.5x | ERROR | |' }
if ($figures.Contains('rollback')) {
    $f = $figures.rollback
    Add-Line "| 4 | Failed start: from the failure at hypervisor-launch to the return | $(Format-Summary $f.module.wall) | $(Format-Summary $f.byHand.wall) successful Start-MyVm | $(Format-Ratio $f.ratio) | $($f.target) | reported; whole failing Start-MyVm $(Format-Summary $f.failingStartWhole.wall) | $(Format-Ratio $f.adjustedRatio) |"
} else { Add-Line '| 4 | Failed-start rollback | not measured | | | | ERROR | |' }
if ($figures.Contains('import')) {
    $f = $figures.import
    Add-Line "| 5 | Import-Module in a fresh pwsh | $(Format-Summary $f.module.wall) | $(Format-Summary $f.byHand.wall) empty module | $(Format-Paired $f) | < 500 ms | $($f.verdict.text) | $(Format-Ratio $f.adjustedRatio), $(Format-Number $f.module.wallLessWait.median) ms: $($f.adjustedVerdict.text) |"
    Add-Line "| 5 | ... the whole ``dotnet pwsh`` process | $(Format-Summary $f.moduleProcessWall) | $(Format-Summary $f.emptyProcessWall) empty module | $(Format-Ratio $f.processWallRatio) | (reported) | | |"
} else { Add-Line '| 5 | Module import | not measured | | | < 500 ms | ERROR | |' }
if ($figures.Contains('guestExec')) {
    $f = $figures.guestExec
    Add-Line "| 6 | Invoke-MyVmCommand -FilePath /bin/true | $(Format-Summary $f.module.wall) | $(Format-Summary $f.byHand.wall) guest-exec by hand | $(Format-Paired $f) | $($f.target) | $($f.verdict.text) | $(Format-Ratio $f.adjustedRatio), $($f.adjustedVerdict.text) |"
} else { Add-Line '| 6 | Command round trip in the guest | not measured | | | ratio <= 1.5 | ERROR | |' }
if ($figures.Contains('guestCopy')) {
    $f = $figures.guestCopy
    Add-Line "| 7 | Copy-MyVmFile 20 MiB into the guest | $(Format-Summary $f.toGuest ' MiB/s') | | | reported | | |"
    Add-Line "| 7 | Copy-MyVmFile 20 MiB out of the guest | $(Format-Summary $f.fromGuest ' MiB/s') | | | reported | | |"
} else { Add-Line '| 7 | Copy-MyVmFile throughput | not measured | | | reported | ERROR | |' }
if ('checkpoint' -in $Section) { Add-CheckpointResultLine $(if ($figures.Contains('checkpoint')) { $figures.checkpoint }) }
Add-Line
if ($figures.Contains('scale')) {
    Add-Line '### Inspection at scale, totals per call'
    Add-Line
    Add-Line '| VMs | Get-MyVm | Get-MyVmStats | Stats by hand | Get-MyVmStats / by hand | Reconcile (first Get-MyVm after kill -9) |'
    Add-Line '|---|---|---|---|---|---|'
    foreach ($row in $figures.scale.rows) {
        Add-Line "| $($row.vms) | $(Format-Summary $row.getMyVm.wall) | $(Format-Summary $row.getMyVmStats.wall) | $(Format-Summary $row.statsByHand.wall) | $(Format-Ratio (Get-Ratio $row.getMyVmStats.wall.median $row.statsByHand.wall.median)) | $(Format-Summary $row.reconcile.wall) |"
    }
    Add-Line
}
Add-Line '### Where the time went'
Add-Line
Add-Line 'Medians in ms (each column its own median), of the measuring thread: wall = on a CPU + waiting for a CPU (other load) + blocked (disk, fsync, QEMU, child processes). For the import, the child pwsh''s main thread, whose CPU time comes from schedstat and lags by up to a scheduler tick.'
Add-Line
Add-Line '| Figure | Side | Wall | On a CPU | Waiting for a CPU | Wall less CPU wait |'
Add-Line '|---|---|---|---|---|---|'
function Add-Breakdown([string] $Figure, [string] $Side, $S) {
    Add-Line "| $Figure | $Side | $(Format-Number $S.wall.median) | $(Format-Number $S.onCpu.median) | $(Format-Number $S.waitingForCpu.median) | $(Format-Number $S.wallLessWait.median) |"
}
if ($figures.Contains('start')) { Add-Breakdown 'Start' 'module' $figures.start.module; Add-Breakdown 'Start' 'by hand' $figures.start.byHand }
if ($figures.Contains('stop')) { Add-Breakdown 'Stop' 'module' $figures.stop.module; Add-Breakdown 'Stop' 'by hand' $figures.stop.byHand }
if ($figures.Contains('rollback')) { Add-Breakdown 'Rollback' 'failure to return' $figures.rollback.module; Add-Breakdown 'Rollback' 'successful start' $figures.rollback.byHand }
if ($figures.Contains('import')) { Add-Breakdown 'Import' 'module' $figures.import.module; Add-Breakdown 'Import' 'empty module' $figures.import.byHand }
if ($figures.Contains('guestExec')) { Add-Breakdown 'Guest command' 'module' $figures.guestExec.module; Add-Breakdown 'Guest command' 'by hand' $figures.guestExec.byHand }
if ($figures.Contains('scale')) {
    foreach ($row in $figures.scale.rows) {
        $vms = "$($row.vms) VM$(if ($row.vms -ne 1) { 's' })"
        Add-Breakdown 'Get-MyVm' $vms $row.getMyVm
        Add-Breakdown 'Get-MyVmStats' $vms $row.getMyVmStats
        Add-Breakdown 'Stats by hand' $vms $row.statsByHand
        Add-Breakdown 'Reconcile' $vms $row.reconcile
    }
}
Add-Line
Add-DensityResults -Figures $figures -OutputDirectory $OutputDirectory -Log ${function:Write-BenchLine}
Add-Line '## Method'
Add-Line
$number = @{ start = 1; stop = 2; scale = 3; rollback = 4; import = 5; guestExec = 6; guestCopy = 7; checkpoint = '8-9' }
foreach ($k in 'start', 'stop', 'scale', 'rollback', 'import', 'guestExec', 'guestCopy', 'checkpoint') {
    if ($figures.Contains($k)) { Add-Line "$($number[$k]). **$($figures[$k].title)**: $($figures[$k].method)" }
}
if ($figures.Contains('runner')) { Add-Line "8. **Test runner**: $($figures.runner.perSuiteWall) s wall, $($figures.runner.perSuiteCpu) s CPU per suite (target 1.5 s); project suites -Parallel / serial wall $($figures.runner.parallelRatio) (target 0.6; the machine's CPU alone bounds it at $($figures.runner.cpuBoundRatio) here): [runner-results.md](runner-results.md)" }
Add-Line
Add-Line 'Everything runs under a dedicated temporary MYHV_HOME, removed at the end (also on failure), with no QEMU left running.'
if ($sectionErrors.Count) {
    Add-Line
    Add-Line '## Errors'
    Add-Line
    foreach ($k in $sectionErrors.Keys) { Add-Line "- **$k**: $($sectionErrors[$k] -replace '\s+', ' ')" }
}
[System.IO.File]::WriteAllText((Join-Path $OutputDirectory 'results.md'), $md.ToString())
Write-BenchLine "wrote $(Join-Path $OutputDirectory 'results.md') and results.json"
#endregion

# Many hosts over SSH remoting: its own file and report (fleet-results.md); it needs root for its namespaces.
Invoke-Section 'fleet' { & (Join-Path $PSScriptRoot 'FleetFanOut.ps1') -WorkDirectory (Join-Path $BenchHome 'f') -OutputDirectory $OutputDirectory }

if ($sectionErrors.Count) { exit 1 }
exit 0
