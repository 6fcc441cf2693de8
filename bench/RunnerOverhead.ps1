<#
.SYNOPSIS
    Measures the test runner's cost per suite and its parallel speed-up.

.DESCRIPTION
    dotnet pwsh bench/RunnerOverhead.ps1 [-Suites <n>] [-ProjectPath <dir>] [-Parallel <n>] [-OutputDirectory <dir>]

    1. A corpus of -Suites small suites (3 tests each, pure PowerShell), run four ways: one
       in-process Invoke-Pester over the whole folder (the floor), the runner with -Parallel 1
       (children from the ReadyToRun copy of pwsh that Bootstrap makes; twice, alternating with
       two runs under the runtime's default tier-up: what the runner's JIT settings save), the
       same with children from the plain IL-only pwsh (MYHV_RUNNER_PLAIN_PWSH=1: what that copy
       saves), and the runner with -Parallel <n>. Per-suite overhead = (runner serial - in-process) / suites.
    2. With -ProjectPath (one or more folders of tests/Pester; Invoke-Benchmark passes the set
       below): every suite of those folders, through one runner run (a flat folder of links to
       their files, in tests/Pester, removed afterwards) with -Parallel 1, then with -Parallel <n>
       twice: in a fresh output folder, and in the serial run's folder, where the last run's times
       start the longest suites first. The ratio is parallel / serial wall time (target at most
       0.6), given for both.
       Suites marked host-exclusive run alone by design: from the serial run's per-suite times the
       best ratio the exclusivity allows is given too (exclusive time + the rest / n, over serial),
       with the share of host-exclusive suites in the whole of tests/Pester.

    Each figure has its wall time and its CPU time (user + system of the whole process tree: the
    runner reaps its suites, so they count). The machine is shared: wall time rises with other
    people's load, CPU time much less, so the per-suite overhead is given in both; the load
    average before and after each figure is reported with it.
    Writes runner-results.md into -OutputDirectory and returns the figures.
#>
param(
    [int] $Suites = 8,
    [string[]] $ProjectPath,
    [int] $Parallel = [Environment]::ProcessorCount,
    [string] $OutputDirectory = $PSScriptRoot
)
$ErrorActionPreference = 'Stop'
# From a command line (pwsh -File) a list arrives as one string: a,b
$ProjectPath = @($ProjectPath | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
$repo = Split-Path -Parent $PSScriptRoot
. (Join-Path $repo 'build/BuildCommon.ps1')
$runner = Join-Path $repo 'tests/Pester/Invoke-TestRun.ps1'
$launch = @([Environment]::ProcessPath)
if ([System.IO.Path]::GetFileNameWithoutExtension($launch[0]) -ne 'pwsh') { $launch += Join-Path $PSHOME 'pwsh.dll' }
$ticks = 100.0   # USER_HZ: /proc's clock ticks per second on Linux

function Get-Load { ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0] }

function Get-MachineBusySeconds {
    <# CPU seconds the whole machine spent busy (user, nice, system, irq, softirq, steal from /proc/stat), over all processors: QEMU's guests included. #>
    $f = ([System.IO.File]::ReadAllLines('/proc/stat')[0] -split '\s+')
    ([double] $f[1] + [double] $f[2] + [double] $f[3] + [double] $f[6] + [double] $f[7] + [double] $f[8]) / $ticks
}

function Get-ReapedCpuSeconds {
    <# CPU seconds (user + system) of every child this process has waited for, and of their waited-for descendants. #>
    $stat = [System.IO.File]::ReadAllText('/proc/self/stat')
    $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
    ([double] $fields[13] + [double] $fields[14]) / $ticks   # cutime, cstime (fields 16 and 17)
}

function Measure-Child {
    <# Wall and CPU seconds of one child pwsh run (its output goes to a log), and its exit code. #>
    param([string] $Figure, [string[]] $Arguments, [string] $Log, [hashtable] $Environment = @{})
    $load = Get-Load
    $saved = @{}
    foreach ($k in $Environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Environment[$k]) }
    try {
        $cpu = Get-ReapedCpuSeconds
        $busy = Get-MachineBusySeconds
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $exe = $launch[0]; $rest = @($launch | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive') + $Arguments
        & $exe @rest *> $Log
        $code = $LASTEXITCODE
        $wall = $clock.Elapsed.TotalSeconds
        $cpu = (Get-ReapedCpuSeconds) - $cpu
        $busy = (Get-MachineBusySeconds) - $busy
    } finally { foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) } }
    [pscustomobject]@{ Figure = $Figure; Seconds = [Math]::Round($wall, 1); CpuSeconds = [Math]::Round($cpu, 1); MachineCpuSeconds = [Math]::Round($busy, 1); ExitCode = $code; Load = "$load/$(Get-Load)" }
}

function Format-Row { param($Row) "| $($Row.Figure) | $($Row.Seconds) | $($Row.CpuSeconds) | $($Row.MachineCpuSeconds) | $($Row.ExitCode) | $($Row.Load) |" }
$tableHead = @('| figure | wall s | CPU s (runner and its suites) | machine CPU s (all processes) | exit | load before/after |', '| --- | ---: | ---: | ---: | ---: | --- |')

$work = (& mktemp -d -p /tmp 'mhro-XXXXXX').Trim()
$set = $null
try {
    $corpus = Join-Path $work 'corpus'
    $null = New-Item -ItemType Directory -Path $corpus
    for ($i = 1; $i -le $Suites; $i++) {
        Set-Content -LiteralPath (Join-Path $corpus ("S{0:d2}.Tests.ps1" -f $i)) -Value @"
Describe 'suite $i' {
    It 'adds' { 1 + 1 | Should -Be 2 }
    It 'joins <_>' -ForEach 'a', 'b' { "`$_`$_" | Should -Be ("`$_" * 2) }
}
"@
    }
    $inProcess = "Import-Module '$(Get-PesterManifestPath)'; `$c = New-PesterConfiguration; `$c.Run.Path = '$corpus'; `$c.Run.Exit = `$true; `$c.Output.Verbosity = 'Normal'; Invoke-Pester -Configuration `$c"
    $floor = Measure-Child -Figure "$Suites small suites, one in-process Invoke-Pester" -Arguments @('-Command', $inProcess) -Log (Join-Path $work 'inprocess.log')
    # Serial with the runner's JIT settings (tier-up off, Runner/RunnerJitSettings.ps1) and with the
    # runtime's default (DOTNET_TC_CallCounting=1 set by hand: the runner then leaves it alone),
    # alternating, twice each: this machine's noise is of the size of the difference.
    $serialRuns = @(); $tierUpRuns = @()
    foreach ($round in 1, 2) {
        $serialRuns += Measure-Child -Figure "$Suites small suites, runner -Parallel 1" -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work "o1-$round"), '-Parallel', '1') -Log (Join-Path $work "serial-$round.log")
        $tierUpRuns += Measure-Child -Figure "$Suites small suites, runner -Parallel 1, tier-up on (the runtime's default)" -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work "o4-$round"), '-Parallel', '1') `
            -Log (Join-Path $work "tierup-$round.log") -Environment @{ DOTNET_TC_CallCounting = '1' }
    }
    $plain = Measure-Child -Figure "$Suites small suites, runner -Parallel 1, children from the IL-only pwsh" -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work 'o3'), '-Parallel', '1') `
        -Log (Join-Path $work 'plain.log') -Environment @{ MYHV_RUNNER_PLAIN_PWSH = '1' }
    $par = Measure-Child -Figure "$Suites small suites, runner -Parallel $Parallel" -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work 'o2'), '-Parallel', "$Parallel") -Log (Join-Path $work 'parallel.log')
    $mean = { param($Runs, $Property) ($Runs | Measure-Object -Property $Property -Average).Average }
    $overhead = { param($Runs, $Property) [Math]::Round(((& $mean $Runs $Property) - $floor.$Property) / $Suites, 2) }
    $figures = [ordered]@{
        corpusSuites        = $Suites
        perSuiteWall        = & $overhead $serialRuns 'Seconds'
        perSuiteCpu         = & $overhead $serialRuns 'CpuSeconds'
        perSuiteWallTierUp  = & $overhead $tierUpRuns 'Seconds'
        perSuiteCpuTierUp   = & $overhead $tierUpRuns 'CpuSeconds'
        perSuiteWallPlain   = & $overhead @($plain) 'Seconds'
        perSuiteCpuPlain    = & $overhead @($plain) 'CpuSeconds'
        runs                = @($floor) + $serialRuns + $tierUpRuns + @($plain, $par)
    }
    $lines = @($tableHead)
    $lines += @($figures.runs | ForEach-Object { Format-Row $_ })
    $lines += '', ("Per-suite overhead of the runner (serial minus in-process, per suite, mean of 2 runs): **{0} s wall, {1} s CPU** (target 1.5 s). With tier-up on: {2} s wall, {3} s CPU; with children from the IL-only pwsh: {4} s wall, {5} s CPU." -f
        $figures.perSuiteWall, $figures.perSuiteCpu, $figures.perSuiteWallTierUp, $figures.perSuiteCpuTierUp, $figures.perSuiteWallPlain, $figures.perSuiteCpuPlain)
    if ($ProjectPath) {
        # One folder of links, so both runs plan every chosen suite at once (as a whole run does). It
        # sits in tests/Pester, flat: a suite finds its kit as $PSScriptRoot/../Support, and pwsh
        # resolves '..' on the link's path, not the real one. Links to the folders' other files
        # (ConsoleSupport.psm1, ...) go with them. The runner runs each real file once.
        $set = Join-Path $repo "tests/Pester/.bench-runner-set-$PID"
        $null = New-Item -ItemType Directory -Path $set
        $folders = @(foreach ($p in $ProjectPath) { (Resolve-Path -LiteralPath $p).ProviderPath })
        foreach ($file in @($folders | ForEach-Object { Get-ChildItem -LiteralPath $_ -File })) {
            $link = Join-Path $set $file.Name
            if (Test-Path -LiteralPath $link) { throw "two chosen folders hold a file named $($file.Name): the flat set cannot hold both" }
            $null = New-Item -ItemType SymbolicLink -Path $link -Target $file.FullName
        }
        $suiteFiles = @($folders | ForEach-Object { Get-ChildItem -LiteralPath $_ -Filter '*.Tests.ps1' })
        $isExclusive = { param($file) @(Get-Content -LiteralPath $file) -contains '# Runner: host-exclusive' }
        $exclusiveCount = @($suiteFiles | Where-Object { & $isExclusive $_.FullName }).Count
        $named = ($folders | ForEach-Object { Split-Path -Leaf $_ }) -join ', '
        $ps = Measure-Child -Figure "$($suiteFiles.Count) suites of $named, -Parallel 1" -Arguments @('-File', $runner, '-Path', $set, '-OutputDir', (Join-Path $work 'p1'), '-Parallel', '1') -Log (Join-Path $work 'project-serial.log')
        # In parallel twice: in a fresh output folder (a first run: host-exclusive suites first,
        # then plan order), and in the serial run's folder, whose times order the suites longest
        # first (Runner/RunnerOrder.ps1), as every later run in a folder is.
        $pf = Measure-Child -Figure "$($suiteFiles.Count) suites of $named, -Parallel $Parallel, first run in its output folder" -Arguments @('-File', $runner, '-Path', $set, '-OutputDir', (Join-Path $work 'p2'), '-Parallel', "$Parallel") -Log (Join-Path $work 'project-parallel-first.log')
        $pp = Measure-Child -Figure "$($suiteFiles.Count) suites of $named, -Parallel $Parallel, after the serial run in its folder" -Arguments @('-File', $runner, '-Path', $set, '-OutputDir', (Join-Path $work 'p1'), '-Parallel', "$Parallel") -Log (Join-Path $work 'project-parallel.log')
        # Per-suite seconds of the serial run, from its verdict lines, and which suites are host-exclusive (its plan lines).
        $serialLog = @(Get-Content -LiteralPath (Join-Path $work 'project-serial.log'))
        $exclusiveNames = @(foreach ($l in $serialLog) { if ($l -match '^  (\S.*) \(at least \d+ test\(s\), host-exclusive\)$') { $Matches[1] } })
        $exclusiveSeconds = 0.0; $otherSeconds = 0.0
        foreach ($l in $serialLog) {
            if ($l -match '^--- \S+\s+(.+): \d+ passed, \d+ failed, \d+ skipped in ([\d.]+)s$') {
                if ($Matches[1] -in $exclusiveNames) { $exclusiveSeconds += [double] $Matches[2] } else { $otherSeconds += [double] $Matches[2] }
            }
        }
        $allSuites = @(Get-ChildItem -LiteralPath (Join-Path $repo 'tests/Pester') -Recurse -Filter '*.Tests.ps1' | Where-Object { -not $_.FullName.StartsWith("$set/") })
        $allExclusive = @($allSuites | Where-Object { & $isExclusive $_.FullName }).Count
        $figures.projectPath = $folders
        $figures.projectSuites = $suiteFiles.Count
        $figures.projectExclusiveSuites = $exclusiveCount
        $figures.projectRuns = @($ps, $pf, $pp)
        $figures.parallelRatio = [Math]::Round($pp.Seconds / [Math]::Max(0.1, $ps.Seconds), 2)
        $figures.parallelRatioFirstRun = [Math]::Round($pf.Seconds / [Math]::Max(0.1, $ps.Seconds), 2)
        # The machine's CPU bounds any parallel run: it cannot end before its busy seconds are
        # spread over every processor. Most of it is QEMU's (TCG) guests, which the runner's own
        # CPU figure does not include (they are not its children).
        $cores = [Environment]::ProcessorCount
        $figures.cpuBoundRatio = [Math]::Round(($pp.MachineCpuSeconds / $cores) / [Math]::Max(0.1, $ps.Seconds), 2)
        $figures.serialMachineShare = [Math]::Round($ps.MachineCpuSeconds / ($cores * [Math]::Max(0.1, $ps.Seconds)), 2)
        $figures.parallelMachineShare = [Math]::Round($pp.MachineCpuSeconds / ($cores * [Math]::Max(0.1, $pp.Seconds)), 2)
        $figures.exclusiveSeconds = [Math]::Round($exclusiveSeconds, 1)
        $figures.bestRatio = if ($exclusiveSeconds + $otherSeconds -gt 0) { [Math]::Round(($exclusiveSeconds + $otherSeconds / $Parallel) / ($exclusiveSeconds + $otherSeconds), 2) } else { $null }
        $lines += '', ($tableHead[0] -replace '^\| figure', '| project suites'), $tableHead[1]
        $lines += @($figures.projectRuns | ForEach-Object { Format-Row $_ })
        $lines += '', "Parallel / serial wall time: **$($figures.parallelRatio)** (target at most 0.6), with the serial run's times ordering the suites; $($figures.parallelRatioFirstRun) for a first run in a fresh output folder."
        $lines += "- The machine's CPU: the serial run kept $([int] (100 * $figures.serialMachineShare))% of its $cores processors busy, the parallel one $([int] (100 * $figures.parallelMachineShare))%. Spread perfectly over $cores processors, the parallel run's busy seconds alone take $($figures.cpuBoundRatio) of the serial wall time: no order or runner can go below that here."
        $lines += "- $exclusiveCount of these $($suiteFiles.Count) suites are host-exclusive (they run alone): $($figures.exclusiveSeconds) s of the serial run's $([Math]::Round($exclusiveSeconds + $otherSeconds, 1)) s of suite time; with perfect overlap of the rest on $Parallel slots the ratio could be at best $($figures.bestRatio). In the whole of tests/Pester, $allExclusive of $($allSuites.Count) suites are host-exclusive."
        foreach ($log in 'project-serial.log', 'project-parallel-first.log', 'project-parallel.log') {
            $final = @(Get-Content -LiteralPath (Join-Path $work $log) | Where-Object { $_ -match '^Pester: ' }) | Select-Object -Last 1
            $lines += "- $log final line: ``$final``"
        }
    }
    $text = "# Runner overhead ($(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC, $([Environment]::ProcessorCount) processors)`n`n" + ($lines -join "`n") + "`n"
    $null = New-Item -ItemType Directory -Force -Path $OutputDirectory
    Set-Content -LiteralPath (Join-Path $OutputDirectory 'runner-results.md') -Value $text
    Write-Host $text
    [pscustomobject] $figures
} finally {
    & rm -rf -- $work
    if ($set) { & rm -rf -- $set }
}
