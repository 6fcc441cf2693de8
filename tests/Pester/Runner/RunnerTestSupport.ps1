# Support for Invoke-TestRun.Tests.ps1: runs Invoke-TestRun.ps1 as a child pwsh over fixture
# folders, a few runs at a time (most of a run is pwsh and Pester starting up). Dot-sourced; not a suite.

Import-Module (Join-Path $PSScriptRoot '../TestHelpers.psm1') -Force   # Start-MyHvPwsh: start pwsh the way this one runs

function Start-RunnerRun {
    <#
    Starts the runner over one fixture folder with an argument list. The child inherits this
    process's environment (MYHV_TEST_ROOT included, so the inner runner nests its temp roots in
    ours), changed by $Environment (a $null value removes a variable).
    #>
    param(
        [Parameter(Mandatory)] [string] $RunnerPath,
        [Parameter(Mandatory)] [string] $FixturePath,
        [Parameter(Mandatory)] [string] $OutputDir,
        [int] $SuiteTimeoutSeconds,
        [hashtable] $Environment = @{}
    )
    $arguments = @('-Path', $FixturePath, '-OutputDir', $OutputDir)
    if ($SuiteTimeoutSeconds) { $arguments += @('-SuiteTimeoutSeconds', "$SuiteTimeoutSeconds") }
    $process = Start-MyHvPwsh -File $RunnerPath -ArgumentList $arguments -Environment $Environment `
        -WorkingDirectory (Get-Location -PSProvider FileSystem).ProviderPath
    [pscustomobject]@{
        Process   = $process
        Stdout    = $process.StdoutTask
        Stderr    = $process.StderrTask
        OutputDir = $OutputDir
        Clock     = [System.Diagnostics.Stopwatch]::StartNew()
    }
}

function Complete-RunnerRun {
    <# Waits for a started run (killing it past $LimitSeconds) and returns exit code, stdout lines, stderr and summary.json. #>
    param([Parameter(Mandatory)] $Run, [int] $LimitSeconds = 600)
    $remaining = [Math]::Max(1, $LimitSeconds - [int] $Run.Clock.Elapsed.TotalSeconds)
    if (-not $Run.Process.WaitForExit($remaining * 1000)) {
        $Run.Process.Kill($true)
        throw "The runner over $($Run.OutputDir) did not finish within ${LimitSeconds}s"
    }
    $Run.Process.WaitForExit()
    $stdout = $Run.Stdout.GetAwaiter().GetResult()
    $lines = [System.Collections.Generic.List[string]]::new([string[]] ($stdout -split '\r?\n'))
    while ($lines.Count -and $lines[$lines.Count - 1] -eq '') { $lines.RemoveAt($lines.Count - 1) }
    $summaryPath = Join-Path $Run.OutputDir 'summary.json'
    [pscustomobject]@{
        ExitCode = $Run.Process.ExitCode
        Lines    = $lines.ToArray()
        Stderr   = $Run.Stderr.GetAwaiter().GetResult()
        Summary  = if (Test-Path -LiteralPath $summaryPath) { Get-Content -LiteralPath $summaryPath -Raw | ConvertFrom-Json } else { $null }
        Seconds  = $Run.Clock.Elapsed.TotalSeconds
    }
}

function Add-StaleResult {
    <#
    Leaves a convincing "previous run" in an output directory: a passing summary.json and, where
    the runner will put its first suite, a passing goodbye and results file. A runner that read
    anything from an earlier run would report a pass.
    #>
    param([Parameter(Mandatory)] [string] $OutputDir, [Parameter(Mandatory)] [string] $SuiteDirName)
    $suiteDir = Join-Path $OutputDir "suites/$SuiteDirName"
    $null = New-Item -ItemType Directory -Path $suiteDir -Force
    Set-Content -LiteralPath (Join-Path $OutputDir 'summary.json') -Value '{ "ok": true, "passed": 3, "failed": 0, "skipped": 0, "suites": [] }'
    $xml = '<?xml version="1.0" encoding="utf-8"?><test-results total="3" failures="0"><test-case name="a" result="Success" /><test-case name="b" result="Success" /><test-case name="c" result="Success" /></test-results>'
    Set-Content -LiteralPath (Join-Path $suiteDir 'results.xml') -Value $xml
    $hash = (Get-FileHash -LiteralPath (Join-Path $suiteDir 'results.xml') -Algorithm SHA256).Hash
    $goodbye = @{ nonce = 'stale'; error = $null; results = @{ sha256 = $hash }
        run = @{ result = 'Passed'; total = 3; passed = 3; failed = 0; skipped = 0; inconclusive = 0; notRun = 0; failedBlocks = 0; failedContainers = 0 } }
    Set-Content -LiteralPath (Join-Path $suiteDir 'goodbye.json') -Value ($goodbye | ConvertTo-Json -Depth 4)
}

function Invoke-RunnerScenario {
    <#
    Runs every scenario (see RunnerScenarios.psd1), at most $Throttle runs at once, long idle ones
    (with a timeout) first. Returns a hashtable: scenario name -> result of Complete-RunnerRun.
    #>
    param(
        [Parameter(Mandatory)] [object[]] $Scenarios,
        [Parameter(Mandatory)] [string] $FixtureRoot,
        [Parameter(Mandatory)] [string] $WorkRoot,
        [Parameter(Mandatory)] [string] $RunnerPath,
        [int] $Throttle = 3
    )
    $results = @{}
    $running = [System.Collections.Generic.List[object]]::new()
    $ordered = @($Scenarios | Sort-Object { -not $_.ContainsKey('TimeoutSeconds') }, { $_.Name })
    foreach ($scenario in $ordered) {
        while ($running.Count -ge $Throttle) {
            $done = @($running | Where-Object { $_.Run.Process.HasExited })
            if (-not $done) { Start-Sleep -Milliseconds 100; continue }
            foreach ($d in $done) { $results[$d.Name] = Complete-RunnerRun -Run $d.Run; $null = $running.Remove($d) }
        }
        $outDir = Join-Path $WorkRoot "$($scenario.Name)/out"
        $fixtureOut = Join-Path $WorkRoot "$($scenario.Name)/fx"
        $null = New-Item -ItemType Directory -Path $outDir, $fixtureOut -Force
        $fixture = if ($scenario.ContainsKey('Fixture')) { $scenario.Fixture } else { $scenario.Name }
        if ($scenario.ContainsKey('SeedStale')) { Add-StaleResult -OutputDir $outDir -SuiteDirName "001-$fixture" }
        # CI only where a scenario asks for it: only the Prerequisite fixture depends on it.
        $ci = if ($scenario.ContainsKey('CI') -and $scenario.CI) { $scenario.CI } else { $null }
        $run = Start-RunnerRun -RunnerPath $RunnerPath -FixturePath (Join-Path $FixtureRoot $fixture) -OutputDir $outDir `
            -SuiteTimeoutSeconds $(if ($scenario.ContainsKey('TimeoutSeconds')) { $scenario.TimeoutSeconds } else { 0 }) `
            -Environment @{ MYHV_FIXTURE_OUT = $fixtureOut; CI = $ci }
        $running.Add([pscustomobject]@{ Name = $scenario.Name; Run = $run })
    }
    foreach ($r in $running) { $results[$r.Name] = Complete-RunnerRun -Run $r.Run }
    $results
}

function Test-ProcessGone {
    <# True when no live process has this pid (it is absent from /proc or only a zombie). #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    $stat = "/proc/$ProcessId/stat"
    if (-not (Test-Path -LiteralPath $stat)) { return $true }
    try { $text = [System.IO.File]::ReadAllText($stat) } catch { return $true }
    $text.Substring($text.LastIndexOf(')') + 2).StartsWith('Z')
}
