# Density and scale figures for bench/Invoke-Benchmark.ps1 (dot-sourced after BenchCommon.ps1):
#   memory      RSS of a ready 'tiny' VM with the module's TCG settings against QEMU's defaults
#               (-TranslationCacheMiB 0 -FreePageReporting $false), split into guest RAM,
#               translation buffer and the rest, and boot-to-ready of each
#   parallel    10 VMs Start-MyVm -Wait with the default -ThrottleLimit against one at a time,
#               and the same for Stop-MyVm (each guest powers off)
#   hundreds    Get-MyVm, Get-MyVm web*, tab completion of -Name (TabExpansion2) and Get-MyVmStats
#               with 10, 100 and 500 defined VMs (a tenth running), per VM
# Add-DensityResults writes the section of results.md and its charts (bench/Charts, ScottPlot).

Set-StrictMode -Version 3.0

function Get-QemuMemory {
    <#
    A QEMU process's memory from /proc/<pid>/smaps: the whole RSS, the guest RAM (the anonymous
    mapping of exactly the guest's size), the translation buffer (the anonymous executable
    mapping TCG writes code into) and the rest (QEMU's code, its copy of the kernel, heaps), in MiB.
    #>
    param([Parameter(Mandatory)] [int] $ProcessId, [Parameter(Mandatory)] [int] $GuestMiB)
    $guest = 0L; $code = 0L; $total = 0L; $hugeKb = 0L
    $size = 0L; $perms = ''; $named = $false
    foreach ($line in [System.IO.File]::ReadAllLines("/proc/$ProcessId/smaps")) {
        if ($line -match '^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(\S*)') { $perms = $Matches[1]; $named = $Matches[2].Length -gt 0; continue }
        if ($line -match '^Size:\s+(\d+)') { $size = [long] $Matches[1]; continue }
        if ($line -match '^AnonHugePages:\s+(\d+)') { $hugeKb += [long] $Matches[1]; continue }
        if ($line -match '^Rss:\s+(\d+)') {
            $rss = [long] $Matches[1]
            $total += $rss
            if (-not $named -and $size -eq $GuestMiB * 1024L) { $guest += $rss }
            elseif (-not $named -and $perms.Contains('x')) { $code += $rss }
        }
    }
    [ordered] @{
        rssMiB = [Math]::Round($total / 1024, 1); guestRamMiB = [Math]::Round($guest / 1024, 1)
        translationBufferMiB = [Math]::Round($code / 1024, 1); restMiB = [Math]::Round(($total - $guest - $code) / 1024, 1)
        hugePagesMiB = [Math]::Round($hugeKb / 1024, 1)
    }
}

function Invoke-DensityMemory {
    param([Parameter(Mandatory)] [scriptblock] $Log, [int] $Rounds = 2)
    # The module's defaults against QEMU's: its own translation buffer and no balloon.
    $vms = [ordered] @{ 'mem-module' = @{}; 'mem-qemu' = @{ TranslationCacheMiB = 0; FreePageReporting = $false } }
    foreach ($n in $vms.Keys) {
        $settings = $vms[$n]
        $null = New-MyVm -Name $n -Image tiny -MemoryMiB 128 -Network None @settings
    }
    $samples = @{ 'mem-module' = [System.Collections.Generic.List[object]]::new(); 'mem-qemu' = [System.Collections.Generic.List[object]]::new() }
    $accel = @{}; $balloon = @{}
    # Warm-up (overlays, KVM probe), not measured; then rounds, the order alternating.
    foreach ($n in $vms.Keys) { Start-MyVm -Name $n -ErrorAction Stop; Stop-MyVm -Name $n -Force -ErrorAction Stop }
    for ($i = 1; $i -le $Rounds; $i++) {
        $order = if ($i % 2) { @($vms.Keys) } else { @($vms.Keys)[1, 0] }
        foreach ($n in $order) {
            $boot = Measure-Call { Start-MyVm -Name $n -Wait -TimeoutSeconds 300 -ErrorAction Stop }
            $vm = Get-MyVm -Name $n
            $argv = [System.IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline").Split([char] 0)
            $accel[$n] = ($argv | Where-Object { $_ -like 'tcg*' -or $_ -like 'kvm*' } | Select-Object -First 1)
            $balloon[$n] = [string] ($argv | Where-Object { $_ -like 'virtio-balloon*' } | Select-Object -First 1)
            # The guest idles after ready: its last writes land, and its balloon driver reports the
            # pages it freed (seen here within 1 s of ready, RSS flat from then to 14 s).
            Start-Sleep -Seconds 2
            $mem = Get-QemuMemory -ProcessId $vm.Pid -GuestMiB 128
            $samples[$n].Add([pscustomobject] @{ Boot = $boot; Memory = $mem })
            & $Log ("memory {0}: ready in {1:0} ms, RSS {2} MiB (guest RAM {3}, translation buffer {4}, rest {5})" -f $n, $boot.Wall, $mem.rssMiB, $mem.guestRamMiB, $mem.translationBufferMiB, $mem.restMiB)
            Stop-MyVm -Name $n -Force -ErrorAction Stop
        }
    }
    $side = {
        param($list)
        [ordered] @{
            bootToReady = Get-CallSummary @($list | ForEach-Object Boot)
            rssMiB = Get-Summary -Digits 1 @($list | ForEach-Object { $_.Memory.rssMiB })
            guestRamMiB = Get-Summary -Digits 1 @($list | ForEach-Object { $_.Memory.guestRamMiB })
            translationBufferMiB = Get-Summary -Digits 1 @($list | ForEach-Object { $_.Memory.translationBufferMiB })
            restMiB = Get-Summary -Digits 1 @($list | ForEach-Object { $_.Memory.restMiB })
            hugePagesMiB = Get-Summary -Digits 1 @($list | ForEach-Object { $_.Memory.hugePagesMiB })
        }
    }
    $module = & $side $samples['mem-module']; $qemu = & $side $samples['mem-qemu']
    foreach ($n in $vms.Keys) { Remove-MyVm -Name $n -Force -Confirm:$false }
    $rssRatio = Get-Ratio $module.rssMiB.median $qemu.rssMiB.median
    $bootRatio = Get-Ratio $module.bootToReady.wall.median $qemu.bootToReady.wall.median
    [ordered] @{
        title = 'Memory per VM'
        module = $module; qemuDefaults = $qemu
        accelOption = [ordered] @{ module = $accel['mem-module']; qemuDefaults = $accel['mem-qemu'] }
        balloonDevice = [ordered] @{ module = $balloon['mem-module']; qemuDefaults = $balloon['mem-qemu'] }
        rssRatio = $rssRatio; rssVerdict = Get-Verdict -Value $rssRatio -Target 0.7 -Kind max
        bootRatio = $bootRatio; bootVerdict = Get-Verdict -Value $bootRatio -Target 1.1 -Kind max
        method = "Two VMs from 'tiny' (1 vCPU, 128 MiB, -Network None): one with the module's TCG defaults (translation buffer $([MyHypervisor.Core.Hypervisors.Qemu.TcgMemorySettings]::DefaultTranslationCacheMiB) MiB; a virtio balloon with free page reporting, through which the guest's driver hands back the pages it freed after booting), one with -TranslationCacheMiB 0 -FreePageReporting `$false (QEMU's own defaults: no tb-size, no balloon). After a warm-up of each, $Rounds rounds, the order alternating: Start-MyVm -Wait (boot to the guest's ready report), 2 s of idle, then /proc/<pid>/smaps: RSS in all, the guest RAM mapping (anonymous, exactly 128 MiB), the translation buffer (the anonymous executable mapping) and the rest; then Stop-MyVm -Force."
    }
}

function Invoke-DensityParallel {
    param([Parameter(Mandatory)] [scriptblock] $Log, [int] $Count = 10)
    $names = [string[]] @(1..$Count | ForEach-Object { 'par-{0:d2}' -f $_ })
    foreach ($n in $names) { $null = New-MyVm -Name $n -Image tiny -MemoryMiB 128 -Network None }
    # Overlays are made by a first start: warm them (no -Wait), so both rounds are re-starts.
    Start-MyVm -Name $names -ErrorAction Stop; Stop-MyVm -Name $names -Force -ErrorAction Stop
    $default = [MyHypervisor.PowerShell.Infrastructure.VmBatchCmdlet]::DefaultThrottleLimit
    $result = [ordered] @{ title = 'Several VMs at once'; vms = $Count; defaultThrottle = $default }
    foreach ($run in @(@{ Key = 'oneAtATime'; Throttle = 1 }, @{ Key = 'defaultThrottle'; Throttle = $default })) {
        # A guest that dies while booting (seen here under a load average of 70) is counted, not fatal.
        $failures = $null
        $start = Measure-Call { Start-MyVm -Name $names -Wait -TimeoutSeconds 600 -ThrottleLimit $run.Throttle -PassThru -ErrorAction SilentlyContinue -ErrorVariable +failures }
        $ready = @($start.Output | Where-Object Status -eq 'Running').Count
        if ($ready -lt $Count - 2) { throw "Start-MyVm -Wait -ThrottleLimit $($run.Throttle): only $ready of $Count VMs ready ($(@($failures) -join '; '))" }
        $cpu = 0.0
        foreach ($vm in @($start.Output | Where-Object Status -eq 'Running')) {
            $fields = [System.IO.File]::ReadAllText("/proc/$($vm.Pid)/stat").Split(') ')[1].Split(' ')   # utime and stime, in ticks (100 per s)
            $cpu += ([double] $fields[11] + [double] $fields[12]) / 100
        }
        $stop = Measure-Call { Stop-MyVm -Name $names -TimeoutSeconds 60 -ThrottleLimit $run.Throttle -PassThru -ErrorAction Stop }
        if (@(Get-MyVm -Name $names | Where-Object Status -eq 'Running').Count) { throw "Stop-MyVm -ThrottleLimit $($run.Throttle) left VMs running" }
        $result[$run.Key] = [ordered] @{
            throttle = $run.Throttle
            startWait = [ordered] @{ wallSeconds = [Math]::Round($start.Wall / 1000, 1); guestCpuSeconds = [Math]::Round($cpu, 1); ready = $ready; failed = @($failures | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { "$($_.TargetObject): $($_.Exception.Message)" } else { "$_" } }) }
            stop = [ordered] @{ wallSeconds = [Math]::Round($stop.Wall / 1000, 2); methods = @($stop.Output | ForEach-Object { "$($_.StopMethod)" } | Sort-Object -Unique) }
            load = ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2] -join ' '
        }
        & $Log ("parallel, -ThrottleLimit {0}: {1} x Start-MyVm -Wait {2:0.0} s (guests' CPU {3:0.0} s), Stop-MyVm {4:0.00} s, load {5}" -f $run.Throttle, $Count, $result[$run.Key].startWait.wallSeconds, $cpu, $result[$run.Key].stop.wallSeconds, $result[$run.Key].load)
    }
    foreach ($n in $names) { Remove-MyVm -Name $n -Force -Confirm:$false }
    $result.startRatio = Get-Ratio $result.defaultThrottle.startWait.wallSeconds $result.oneAtATime.startWait.wallSeconds
    $result.stopRatio = Get-Ratio $result.defaultThrottle.stop.wallSeconds $result.oneAtATime.stop.wallSeconds
    $result.method = "VMs par-01..par-$('{0:d2}' -f $Count) (tiny, 128 MiB, -Network None), overlays made beforehand. Start-MyVm -Name <all> -Wait -PassThru with -ThrottleLimit 1 (one at a time: the old behaviour), then Stop-MyVm -Name <all> (ACPI power button, each guest powers off); then the same with the default -ThrottleLimit ($default, fixed; see Start-MyVm -ThrottleLimit). One round each (each round boots $Count TCG guests). 'Guests' CPU' is the CPU time the QEMU processes had used when all were ready: under TCG a boot is CPU work, so on $([Environment]::ProcessorCount) cores the best concurrent wall time is about that CPU time / cores."
    $result
}

function Invoke-DensityHundreds {
    param([Parameter(Mandatory)] [scriptblock] $Log, [Parameter(Mandatory)] [string] $ModuleHome,
          [int[]] $Counts = @(10, 100, 500), [int] $Repetitions = 7)
    # Only this part's VMs exist while it measures (an earlier section may have left one of its own).
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    $rows = [System.Collections.Generic.List[object]]::new()
    $defined = [System.Collections.Generic.List[string]]::new()
    $running = [System.Collections.Generic.List[string]]::new()
    foreach ($count in ($Counts | Sort-Object)) {
        # A fifth of the VMs are web-*, the rest db-*; every tenth VM runs (paused: a QEMU process, no guest CPU).
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        for ($i = $defined.Count; $i -lt $count; $i++) {
            $n = if ($i % 5 -eq 0) { 'web-{0:d3}' -f $i } else { 'db-{0:d3}' -f $i }
            $null = New-MyVm -Name $n -Image tiny -MemoryMiB 128 -Network None
            $defined.Add($n)
            if ($i % 10 -eq 1) {
                Start-MyVm -Name $n -ErrorAction Stop
                Suspend-GuestByHand -ApiSocket "$ModuleHome/run/$n/api.sock"
                $running.Add($n)
            }
        }
        & $Log ("hundreds: {0} VMs defined, {1} running (made in {2:0.0} s)" -f $defined.Count, $running.Count, $sw.Elapsed.TotalSeconds)
        $web = @($defined | Where-Object { $_ -like 'web*' }).Count
        # Warm-up at this size.
        $null = @(Get-MyVm); $null = @(Get-MyVmStats); $null = TabExpansion2 -inputScript 'Get-MyVm -Name web-0' -cursorColumn 19
        $calls = @{ get = New-CallList; web = New-CallList; complete = New-CallList; stats = New-CallList }
        for ($r = 1; $r -le $Repetitions; $r++) {
            $c = Measure-Call { @(Get-MyVm) }
            if (@($c.Output).Count -ne $count -or @($c.Output | Where-Object Status -eq 'Running').Count -ne $running.Count) { throw "Get-MyVm: $(@($c.Output).Count) VMs, not $count" }
            $calls.get.Add($c)
            $c = Measure-Call { @(Get-MyVm web*) }
            if (@($c.Output).Count -ne $web) { throw "Get-MyVm web*: $(@($c.Output).Count) VMs, not $web" }
            $calls.web.Add($c)
            $c = Measure-Call { TabExpansion2 -inputScript 'Get-MyVm -Name web-0' -cursorColumn 19 }
            $expected = @($defined | Where-Object { $_ -like 'web-0*' }).Count
            if ($c.Output.CompletionMatches.Count -ne $expected) { throw "completion of web-0: $($c.Output.CompletionMatches.Count) matches, not $expected" }
            $calls.complete.Add($c)
            $c = Measure-Call { @(Get-MyVmStats) }
            if (@($c.Output).Count -ne $running.Count) { throw "Get-MyVmStats: $(@($c.Output).Count) objects, not $($running.Count)" }
            $calls.stats.Add($c)
        }
        $rows.Add([ordered] @{
            vms = $count; running = $running.Count; web = $web
            getMyVm = Get-CallSummary $calls.get; getMyVmPerVm = Get-CallSummary $calls.get -Divisor $count -Digits 4
            getWeb = Get-CallSummary $calls.web; getWebPerVm = Get-CallSummary $calls.web -Divisor $web -Digits 4
            completion = Get-CallSummary $calls.complete; completionPerVm = Get-CallSummary $calls.complete -Divisor $count -Digits 4
            stats = Get-CallSummary $calls.stats; statsPerVm = Get-CallSummary $calls.stats -Divisor $count -Digits 4
        })
        & $Log ("hundreds, {0} VMs: Get-MyVm {1} ms, Get-MyVm web* {2} ms, completion {3} ms, Get-MyVmStats {4} ms" -f $count, $rows[-1].getMyVm.wall.median, $rows[-1].getWeb.wall.median, $rows[-1].completion.wall.median, $rows[-1].stats.wall.median)
    }
    $first = $rows[0]; $last = $rows[-1]
    $flat = [ordered] @{}
    foreach ($k in 'getMyVmPerVm', 'getWebPerVm', 'completionPerVm', 'statsPerVm') {
        $ratio = Get-Ratio $last[$k].wall.median $first[$k].wall.median
        # On a shared, loaded host the wall time of a long call is mostly waiting for a CPU (schedstat);
        # the time the measuring thread spent on a CPU is the module's own cost, and is judged too.
        $onCpu = Get-Ratio $last[$k].onCpu.median $first[$k].onCpu.median
        $flat[$k] = [ordered] @{ ratio = $ratio; verdict = Get-Verdict -Value $ratio -Target 1.5 -Kind max; adjustedRatio = Get-Ratio $last[$k].wallLessWait.median $first[$k].wallLessWait.median
            onCpuRatio = $onCpu; onCpuVerdict = $(if ($null -ne $onCpu) { Get-Verdict -Value $onCpu -Target 1.5 -Kind max } else { $null }) }
    }
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    [ordered] @{
        title = 'Hundreds of VMs'
        rows = $rows; flatness = $flat
        completionVerdict = Get-Verdict -Value $last.completion.wall.median -Target 100 -Kind below -Unit ' ms'
        method = "VMs defined with New-MyVm (tiny, 128 MiB, -Network None): a fifth named web-NNN, the rest db-NNN; every tenth started (no -Wait) and paused at once by hand (QMP stop), so its QEMU process runs and answers but uses no CPU. At $(($Counts | Sort-Object) -join ', ') defined VMs (the same VMs, more added each time), after a warm-up, $Repetitions rounds of: Get-MyVm (all, each reconciled; checked: count and running count), Get-MyVm web* (checked: the web VMs), TabExpansion2 'Get-MyVm -Name web-0' (the -Name completer through PowerShell's own completion; checked: every web-0* name), Get-MyVmStats (all running VMs). Per VM = total / defined VMs (Get-MyVm web*: / matched VMs)."
    }
}

function Invoke-DensityBenchmark {
    <# All density figures; each part is recorded even when another fails. #>
    param([Parameter(Mandatory)] [scriptblock] $Log, [Parameter(Mandatory)] [string] $ModuleHome, [hashtable] $Errors)
    $out = [ordered] @{}
    foreach ($part in @(
            @{ Key = 'hundreds'; Body = { Invoke-DensityHundreds -Log $Log -ModuleHome $ModuleHome } },
            @{ Key = 'memory'; Body = { Invoke-DensityMemory -Log $Log } },
            @{ Key = 'parallel'; Body = { Invoke-DensityParallel -Log $Log } })) {
        try { $out[$part.Key] = & $part.Body }
        catch {
            & $Log "!! density $($part.Key) failed: $($_.Exception.Message)"
            if ($Errors) { $Errors["density.$($part.Key)"] = "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage)" }
            Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue
        }
    }
    $out
}

function Write-DensityCharts {
    <#
    Draws the charts with bench/Charts (ScottPlot, PNG) from the figures; returns chart file
    names (relative to the output folder) by key, or nothing when the chart tool fails (the text
    tables stay).
    #>
    param([Parameter(Mandatory)] $Figures, [Parameter(Mandatory)] [string] $OutputDirectory, [Parameter(Mandatory)] [scriptblock] $Log)
    $charts = [System.Collections.Generic.List[object]]::new()
    function Add-Bars([string] $File, [string] $Title, [string] $Unit, [string[]] $Labels, [double[]] $Module, [double[]] $Baseline, [string] $ModuleName = 'module', [string] $BaselineName = 'baseline') {
        $charts.Add([ordered] @{ kind = 'bars'; file = $File; title = $Title; unit = $Unit; labels = $Labels; series = @([ordered] @{ name = $ModuleName; values = $Module }, [ordered] @{ name = $BaselineName; values = $Baseline }) })
    }
    if ($Figures.Contains('start')) { Add-Bars 'start.png' 'Start-MyVm until QMP running' 'ms' @('start') @($Figures.start.module.wall.median) @($Figures.start.byHand.wall.median) 'Start-MyVm' 'same QEMU by hand' }
    if ($Figures.Contains('stop')) { Add-Bars 'stop.png' 'Stop-MyVm -Force' 'ms' @('stop') @($Figures.stop.module.wall.median) @($Figures.stop.byHand.wall.median) 'Stop-MyVm -Force' 'QMP quit by hand' }
    if ($Figures.Contains('density') -and $Figures.density.Contains('memory')) {
        $m = $Figures.density.memory
        Add-Bars 'memory.png' 'QEMU memory of a ready tiny VM (128 MiB guest)' 'MiB' @('RSS', 'guest RAM', 'translation buffer', 'rest') `
            @($m.module.rssMiB.median, $m.module.guestRamMiB.median, $m.module.translationBufferMiB.median, $m.module.restMiB.median) `
            @($m.qemuDefaults.rssMiB.median, $m.qemuDefaults.guestRamMiB.median, $m.qemuDefaults.translationBufferMiB.median, $m.qemuDefaults.restMiB.median) 'module TCG defaults (after)' 'QEMU defaults (before)'
        Add-Bars 'boot.png' 'Boot to ready' 's' @('tiny') @($m.module.bootToReady.wall.median / 1000) @($m.qemuDefaults.bootToReady.wall.median / 1000) 'module TCG defaults' 'QEMU defaults'
    }
    if ($Figures.Contains('density') -and $Figures.density.Contains('parallel')) {
        $p = $Figures.density.parallel
        Add-Bars 'parallel.png' "$($p.vms) VMs: Start-MyVm -Wait and Stop-MyVm" 's' @('Start-MyVm -Wait', 'Stop-MyVm') `
            @($p.defaultThrottle.startWait.wallSeconds, $p.defaultThrottle.stop.wallSeconds) @($p.oneAtATime.startWait.wallSeconds, $p.oneAtATime.stop.wallSeconds) "-ThrottleLimit $($p.defaultThrottle.throttle) (default)" 'one at a time'
    }
    if ($Figures.Contains('density') -and $Figures.density.Contains('hundreds')) {
        $rows = $Figures.density.hundreds.rows
        $charts.Add([ordered] @{
            kind = 'lines'; file = 'per-vm.png'; title = 'Cost per VM against the number of VMs'; unit = 'ms per VM'; x = @($rows | ForEach-Object vms)
            series = @(
                [ordered] @{ name = 'Get-MyVm'; values = @($rows | ForEach-Object { $_.getMyVmPerVm.wall.median }) },
                [ordered] @{ name = 'Get-MyVm web* (per match)'; values = @($rows | ForEach-Object { $_.getWebPerVm.wall.median }) },
                [ordered] @{ name = 'TabExpansion2 -Name'; values = @($rows | ForEach-Object { $_.completionPerVm.wall.median }) },
                [ordered] @{ name = 'Get-MyVmStats'; values = @($rows | ForEach-Object { $_.statsPerVm.wall.median }) })
        })
    }
    if ($charts.Count -eq 0) { return @{} }
    $spec = Join-Path ([System.IO.Path]::GetTempPath()) "myhv-charts-$PID.json"
    [System.IO.File]::WriteAllText($spec, (@{ charts = $charts } | ConvertTo-Json -Depth 8))
    $chartDir = Join-Path $OutputDirectory 'charts'
    $null = New-Item -ItemType Directory -Force -Path $chartDir
    $project = Join-Path $PSScriptRoot 'Charts/Charts.csproj'
    $dotnet = (Get-Command -Name dotnet -CommandType Application | Select-Object -First 1).Source
    $output = & $dotnet run --project $project -c Release -- $spec $chartDir 2>&1
    $code = $LASTEXITCODE
    Remove-Item -LiteralPath $spec -ErrorAction Ignore
    if ($code -ne 0) { & $Log "!! charts not drawn (exit $code): $($output -join ' ')"; return @{} }
    $files = @{}
    foreach ($c in $charts) { if (Test-Path -LiteralPath (Join-Path $chartDir $c.file)) { $files[$c.file] = "charts/$($c.file)" } }
    & $Log "charts: $($files.Count) PNG files in $chartDir"
    $files
}

function Add-DensityResults {
    <# The density section of results.md (through the caller's Add-Line), charts first. #>
    param([Parameter(Mandatory)] $Figures, [Parameter(Mandatory)] [string] $OutputDirectory, [Parameter(Mandatory)] [scriptblock] $Log)
    $charts = Write-DensityCharts -Figures $Figures -OutputDirectory $OutputDirectory -Log $Log
    function Chart([string] $File, [string] $Alt) { if ($charts.ContainsKey($File)) { Add-Line "![$Alt]($($charts[$File]))"; Add-Line } }
    Add-Line '## Density and scale'
    Add-Line
    Chart 'start.png' 'Start-MyVm against the same QEMU by hand'
    Add-Line ('Where a start''s own time goes (strace -f -tt of warm re-starts, beside the same QEMU launched by hand): before the launch, the per-VM lock (two lock files), ' +
        'the definition and state, the cached accelerator answer, the overlay check, the runtime folder, the console log reset and the start ledger (one append per artifact, ' +
        'each an open; .NET takes and drops an advisory flock on every open); after it, six chmods (QEMU''s -daemonize makes its sockets 0750), the pid file and /proc/<pid>/stat, ' +
        'the same QMP query-status, then the commit: one durable state write (write, fsync, rename) and the ledger''s unlink. The fsync is the largest single item ' +
        '(0.2-1 ms on an idle disk, up to 80 ms seen on this loaded host); everything else is a few hundred microseconds of file system calls and CPU. One VM (or -ThrottleLimit 1) ' +
        'runs on the pipeline thread, as before the concurrent batch: no thread hop is added to the timed start.')
    Add-Line
    Chart 'stop.png' 'Stop-MyVm -Force against QMP quit by hand'
    if (-not $Figures.Contains('density')) { Add-Line 'Not measured.'; Add-Line; return }
    $d = $Figures.density
    if ($d.Contains('memory')) {
        $m = $d.memory
        Add-Line '### Memory per VM (TCG)'
        Add-Line
        Chart 'memory.png' 'QEMU memory per VM, before and after'
        Chart 'boot.png' 'Boot to ready, before and after'
        Add-Line '| | module defaults (after) | QEMU defaults (before) | ratio | target | result |'
        Add-Line '|---|---|---|---|---|---|'
        Add-Line "| -accel | ``$($m.accelOption.module)`` | ``$($m.accelOption.qemuDefaults)`` | | | |"
        $device = { param($value) if ($value) { "``-device $value``" } else { 'none' } }
        Add-Line "| balloon | $(& $device $m.balloonDevice.module) | $(& $device $m.balloonDevice.qemuDefaults) | | | |"
        Add-Line "| RSS of a ready VM | $(Format-Summary $m.module.rssMiB ' MiB') | $(Format-Summary $m.qemuDefaults.rssMiB ' MiB') | $(Format-Ratio $m.rssRatio) | <= 0.7 | $($m.rssVerdict.text) |"
        Add-Line "| ... guest RAM touched | $(Format-Summary $m.module.guestRamMiB ' MiB') | $(Format-Summary $m.qemuDefaults.guestRamMiB ' MiB') | | | |"
        Add-Line "| ... translation buffer | $(Format-Summary $m.module.translationBufferMiB ' MiB') | $(Format-Summary $m.qemuDefaults.translationBufferMiB ' MiB') | | | |"
        Add-Line "| ... the rest (QEMU, its copy of the kernel, heaps) | $(Format-Summary $m.module.restMiB ' MiB') | $(Format-Summary $m.qemuDefaults.restMiB ' MiB') | | | |"
        Add-Line "| ... of it in transparent huge pages | $(Format-Summary $m.module.hugePagesMiB ' MiB') | $(Format-Summary $m.qemuDefaults.hugePagesMiB ' MiB') | | | |"
        Add-Line "| Boot to ready (Start-MyVm -Wait) | $(Format-Summary $m.module.bootToReady.wall) | $(Format-Summary $m.qemuDefaults.bootToReady.wall) | $(Format-Ratio $m.bootRatio) | <= 1.1 | $($m.bootVerdict.text) |"
        Add-Line
        Add-Line "Method: $($m.method)"
        Add-Line
    }
    if ($d.Contains('parallel')) {
        $p = $d.parallel
        Add-Line "### $($p.vms) VMs at once"
        Add-Line
        Chart 'parallel.png' 'Several VMs: default throttle against one at a time'
        Add-Line '| | default -ThrottleLimit | one at a time | ratio | load average after |'
        Add-Line '|---|---|---|---|---|'
        Add-Line "| Start-MyVm -Wait, $($p.vms) VMs | $($p.defaultThrottle.startWait.wallSeconds) s (throttle $($p.defaultThrottle.throttle); $($p.defaultThrottle.startWait.ready) ready; guests' CPU $($p.defaultThrottle.startWait.guestCpuSeconds) s) | $($p.oneAtATime.startWait.wallSeconds) s ($($p.oneAtATime.startWait.ready) ready; guests' CPU $($p.oneAtATime.startWait.guestCpuSeconds) s) | $(Format-Ratio $p.startRatio) | $($p.defaultThrottle.load) / $($p.oneAtATime.load) |"
        foreach ($f in @($p.oneAtATime.startWait.failed) + @($p.defaultThrottle.startWait.failed) | Where-Object { $_ }) { Add-Line "| (a guest that did not get ready: $($f -replace '\|', '/')) | | | | |" }
        Add-Line "| Stop-MyVm, $($p.vms) VMs (power button) | $($p.defaultThrottle.stop.wallSeconds) s | $($p.oneAtATime.stop.wallSeconds) s | $(Format-Ratio $p.stopRatio) | |"
        Add-Line
        Add-Line "Method: $($p.method)"
        Add-Line
    }
    if ($d.Contains('hundreds')) {
        $h = $d.hundreds
        Add-Line '### Hundreds of VMs'
        Add-Line
        Chart 'per-vm.png' 'Cost per VM against the number of VMs'
        Add-Line '| VMs (running) | Get-MyVm | Get-MyVm web* | TabExpansion2 -Name | Get-MyVmStats |'
        Add-Line '|---|---|---|---|---|'
        foreach ($row in $h.rows) {
            Add-Line "| $($row.vms) ($($row.running)) | $(Format-Summary $row.getMyVm.wall) ($(Format-Number $row.getMyVmPerVm.wall.median) per VM) | $(Format-Summary $row.getWeb.wall) ($(Format-Number $row.getWebPerVm.wall.median) per match) | $(Format-Summary $row.completion.wall) | $(Format-Summary $row.stats.wall) ($(Format-Number $row.statsPerVm.wall.median) per VM) |"
        }
        $f = $h.flatness
        Add-Line "| per VM, $($h.rows[-1].vms) against $($h.rows[0].vms), wall (target <= 1.5) | $(Format-Ratio $f.getMyVmPerVm.ratio): $($f.getMyVmPerVm.verdict.text) | $(Format-Ratio $f.getWebPerVm.ratio): $($f.getWebPerVm.verdict.text) | $(Format-Ratio $f.completionPerVm.ratio); under 100 ms: $($h.completionVerdict.text) | $(Format-Ratio $f.statsPerVm.ratio): $($f.statsPerVm.verdict.text) |"
        Add-Line "| per VM, $($h.rows[-1].vms) against $($h.rows[0].vms), on a CPU (target <= 1.5) | $(Format-Ratio $f.getMyVmPerVm.onCpuRatio): $($f.getMyVmPerVm.onCpuVerdict.text) | $(Format-Ratio $f.getWebPerVm.onCpuRatio): $($f.getWebPerVm.onCpuVerdict.text) | $(Format-Ratio $f.completionPerVm.onCpuRatio) | $(Format-Ratio $f.statsPerVm.onCpuRatio): $($f.statsPerVm.onCpuVerdict.text) |"
        Add-Line
        Add-Line '| VMs | on a CPU: Get-MyVm | Get-MyVm web* | TabExpansion2 | Get-MyVmStats | waiting for a CPU (load): Get-MyVm | Get-MyVmStats |'
        Add-Line '|---|---|---|---|---|---|---|'
        foreach ($row in $h.rows) {
            Add-Line "| $($row.vms) | $(Format-Number $row.getMyVm.onCpu.median) ms | $(Format-Number $row.getWeb.onCpu.median) ms | $(Format-Number $row.completion.onCpu.median) ms | $(Format-Number $row.stats.onCpu.median) ms | $(Format-Number $row.getMyVm.waitingForCpu.median) ms | $(Format-Number $row.stats.waitingForCpu.median) ms |"
        }
        Add-Line
        Add-Line "Method: $($h.method)"
        Add-Line
    }
}
