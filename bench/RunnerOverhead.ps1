<#
.SYNOPSIS
    Measures the test runner's cost per suite and its parallel speed-up.

.DESCRIPTION
    dotnet pwsh bench/RunnerOverhead.ps1 [-Suites <n>] [-ProjectPath <dir>] [-Parallel <n>]

    1. A corpus of -Suites small suites (3 tests each, pure PowerShell), run three ways: one
       in-process Invoke-Pester over the whole folder (the floor), the runner with -Parallel 1, and
       the runner with -Parallel <n>. Per-suite overhead = (runner serial - in-process) / suites.
    2. With -ProjectPath (e.g. tests/Pester): the project's own suites through the runner with
       -Parallel 1 and with -Parallel <n>; the ratio is parallel / serial wall time.

    Prints a Markdown table and writes it to bench/runner-results.md. Wall times depend on how
    busy the machine is; the load average before and after each figure is reported with it.
#>
param(
    [int] $Suites = 8,
    [string] $ProjectPath,
    [int] $Parallel = [Environment]::ProcessorCount
)
$ErrorActionPreference = 'Stop'
$repo = Split-Path -Parent $PSScriptRoot
. (Join-Path $repo 'build/BuildCommon.ps1')
$runner = Join-Path $repo 'tests/Pester/Invoke-TestRun.ps1'
$launch = @([Environment]::ProcessPath)
if ([System.IO.Path]::GetFileNameWithoutExtension($launch[0]) -ne 'pwsh') { $launch += Join-Path $PSHOME 'pwsh.dll' }

function Get-Load { ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0] }

function Measure-Child {
    <# Wall seconds of one child pwsh run (its output goes to a log), and its exit code. #>
    param([string[]] $Arguments, [string] $Log)
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $exe = $launch[0]; $rest = @($launch | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive') + $Arguments
    & $exe @rest *> $Log
    [pscustomobject]@{ Seconds = [Math]::Round($clock.Elapsed.TotalSeconds, 1); ExitCode = $LASTEXITCODE }
}

$work = (& mktemp -d -p /tmp 'mhro-XXXXXX').Trim()
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
    $rows = [System.Collections.Generic.List[object]]::new()
    $inProcess = "Import-Module '$(Get-PesterManifestPath)'; `$c = New-PesterConfiguration; `$c.Run.Path = '$corpus'; `$c.Run.Exit = `$true; `$c.Output.Verbosity = 'Normal'; Invoke-Pester -Configuration `$c"
    $load = Get-Load
    $floor = Measure-Child -Arguments @('-Command', $inProcess) -Log (Join-Path $work 'inprocess.log')
    $rows.Add([pscustomobject]@{ Figure = "$Suites small suites, one in-process Invoke-Pester"; Seconds = $floor.Seconds; Exit = $floor.ExitCode; Load = "$load/$(Get-Load)" })
    $load = Get-Load
    $serial = Measure-Child -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work 'o1'), '-Parallel', '1') -Log (Join-Path $work 'serial.log')
    $rows.Add([pscustomobject]@{ Figure = "$Suites small suites, runner -Parallel 1"; Seconds = $serial.Seconds; Exit = $serial.ExitCode; Load = "$load/$(Get-Load)" })
    $load = Get-Load
    $par = Measure-Child -Arguments @('-File', $runner, '-Path', $corpus, '-OutputDir', (Join-Path $work 'o2'), '-Parallel', "$Parallel") -Log (Join-Path $work 'parallel.log')
    $rows.Add([pscustomobject]@{ Figure = "$Suites small suites, runner -Parallel $Parallel"; Seconds = $par.Seconds; Exit = $par.ExitCode; Load = "$load/$(Get-Load)" })
    $perSuite = [Math]::Round(($serial.Seconds - $floor.Seconds) / $Suites, 2)
    $lines = @('| figure | wall s | exit | load before/after |', '| --- | ---: | ---: | --- |')
    $lines += @($rows | ForEach-Object { "| $($_.Figure) | $($_.Seconds) | $($_.Exit) | $($_.Load) |" })
    $lines += '', "Per-suite overhead of the runner (serial minus in-process, per suite): **$perSuite s** (target 1.5 s)."
    if ($ProjectPath) {
        $load = Get-Load
        $ps = Measure-Child -Arguments @('-File', $runner, '-Path', $ProjectPath, '-OutputDir', (Join-Path $work 'p1'), '-Parallel', '1') -Log (Join-Path $work 'project-serial.log')
        $load2 = Get-Load
        $pp = Measure-Child -Arguments @('-File', $runner, '-Path', $ProjectPath, '-OutputDir', (Join-Path $work 'p2'), '-Parallel', "$Parallel") -Log (Join-Path $work 'project-parallel.log')
        $lines += '', "| project suites ($ProjectPath) | wall s | exit | load before/after |", '| --- | ---: | ---: | --- |'
        $lines += "| -Parallel 1 | $($ps.Seconds) | $($ps.ExitCode) | $load/$load2 |", "| -Parallel $Parallel | $($pp.Seconds) | $($pp.ExitCode) | $load2/$(Get-Load) |"
        $lines += '', "Parallel / serial wall time: **$([Math]::Round($pp.Seconds / [Math]::Max(0.1, $ps.Seconds), 2))** (target at most 0.6)."
    }
    $text = "# Runner overhead ($(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC, $([Environment]::ProcessorCount) processors)`n`n" + ($lines -join "`n") + "`n"
    Set-Content -LiteralPath (Join-Path $PSScriptRoot 'runner-results.md') -Value $text
    $text
} finally {
    & rm -rf -- $work
}
