<#
.SYNOPSIS
    Runs the Pester suites, each in its own child pwsh, and reports a verdict that cannot be a false green.

.DESCRIPTION
    dotnet pwsh tests/Pester/Invoke-TestRun.ps1 [-Path <dir>] [-OutputDir <dir>] [-SuiteTimeoutSeconds <n>]

    Pester alone reports "Passed" when a test calls [Environment]::Exit(0), when an `exit`
    between blocks drops later tests, when a file holds no test, and (by exit code) when 256 tests
    fail. So, as mature runners do:

    1. Plan first: find every *.Tests.ps1 under -Path and, from its syntax tree, the least number
       of tests it must report (its It calls). Every planned suite ends with exactly one verdict.
    2. One child pwsh per suite (Runner/RunnerChild.ps1) under setsid: its own session and
       process group, working directory at the repository root, a fresh per-suite output
       directory, a fresh short MYHV_TEST_ROOT, and a random nonce. Past -SuiteTimeoutSeconds
       the whole group gets SIGTERM, then SIGKILL, and the runner checks none of it is left.
    3. The child writes a goodbye record last (atomically, after Pester returned and exported its
       NUnit file) with the nonce, Pester's counts and failed blocks/containers.
    4. Cross-checks (Runner/RunnerVerdict.ps1): exit code, goodbye and nonce, results file
       (exists, same hash, parses, same counts), plan, at least one test, no failure of any kind.
    5. Leak census after each suite (Runner/RunnerCensus.ps1); a leak fails the suite and is removed.

    Output: a suite's own lines only ever appear prefixed with "[<suite>] "; per-suite verdict
    lines; <OutputDir>/summary.json; "ALL TESTS PASSED" only when exiting 0; and last,
    "Pester: <P> passed, <F> failed, <S> skipped". The exit code is 0 or 1, never a count.

.PARAMETER Path
    A directory searched recursively for *.Tests.ps1 (or one such file). Default: this folder.

.PARAMETER OutputDir
    Where summary.json and the per-suite folders (suites/NNN-name/) go. Default: out/test-results.

.PARAMETER SuiteTimeoutSeconds
    Wall-clock limit for each suite. Default: 900.
#>
[CmdletBinding()]
param(
    [string] $Path,
    [string] $OutputDir,
    [int] $SuiteTimeoutSeconds = 900
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$PSNativeCommandUseErrorActionPreference = $false   # native exit codes are checked where they matter

$script:RepoRoot = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
$script:ChildScript = Join-Path $PSScriptRoot 'Runner/RunnerChild.ps1'
# The Pester version and its lookup in the NuGet cache have one home, shared with build.ps1.
. (Join-Path $script:RepoRoot 'build/BuildCommon.ps1')

function Write-RunnerLine {
    <# The runner's own lines. They never start with '[' (that is how suite lines start). #>
    param([string] $Text = '')
    Write-Host $Text
}

function Resolve-FullPath {
    param([Parameter(Mandatory)] [string] $Value)
    [System.IO.Path]::GetFullPath($Value, (Get-Location -PSProvider FileSystem).ProviderPath)
}

function Initialize-OutputDir {
    <#
    Removes what an earlier run left that could be mistaken for this run's results: summary.json
    and the suites/ folder. Only the runner's own names are touched.
    #>
    param([Parameter(Mandatory)] [string] $Dir)
    $null = New-Item -ItemType Directory -Path $Dir -Force
    Remove-Item -LiteralPath (Join-Path $Dir 'summary.json') -Force -ErrorAction SilentlyContinue
    $suites = Join-Path $Dir 'suites'
    if (Test-Path -LiteralPath $suites) { Remove-Item -LiteralPath $suites -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $suites -Force
}

function Get-ChildEnvironment {
    <#
    The child inherits our environment, plus its own MYHV_TEST_ROOT, and MYHV_HOME inside it so a
    suite that forgets New-MyHvTestHome still never touches the developer's real state. Fail
    points are for the suites that set them, never inherited from the shell.
    #>
    param([Parameter(Mandatory)] [string] $RootPath)
    @{ MYHV_TEST_ROOT = $RootPath; MYHV_HOME = (Join-Path $RootPath 'home'); MYHV_FAILPOINTS = $null }
}

function Invoke-Suite {
    <# Runs one planned suite to its verdict. Always returns a verdict, whatever goes wrong. #>
    param([Parameter(Mandatory)] $Plan, [Parameter(Mandatory)] [int] $Index, [Parameter(Mandatory)] [string] $OutputRoot, [Parameter(Mandatory)] [string] $Name)
    $suiteDir = Join-Path $OutputRoot ('suites/{0:d3}-{1}' -f $Index, ($Name -replace '[^A-Za-z0-9._-]', '_'))
    $null = New-Item -ItemType Directory -Path $suiteDir -Force
    $resultPath = Join-Path $suiteDir 'results.xml'
    $goodbyePath = Join-Path $suiteDir 'goodbye.json'
    $nonce = [Convert]::ToHexString([System.Security.Cryptography.RandomNumberGenerator]::GetBytes(16))
    $prefix = "[$Name] "
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $root = $null; $process = $null; $leaks = @(); $problems = @()
    Write-RunnerLine "=== $Name (at least $($Plan.MinTests) test(s), timeout ${SuiteTimeoutSeconds}s)"
    try {
        $root = New-SuiteTempRoot
        $null = New-Item -ItemType Directory -Path (Join-Path $root 'home')   # the child's default MYHV_HOME
        $baseline = Get-HostNetSnapshot
        $childArgs = @('-File', $script:ChildScript, '-SuitePath', $Plan.Path, '-ResultPath', $resultPath,
            '-GoodbyePath', $goodbyePath, '-Nonce', $nonce, '-PesterManifest', (Get-PesterManifestPath))
        $process = Start-SuiteChild -ChildArguments $childArgs -WorkingDirectory $script:RepoRoot -Environment (Get-ChildEnvironment -RootPath $root)
        $wait = Wait-SuiteChild -Process $process -Prefix $prefix -TimeoutSeconds $SuiteTimeoutSeconds -RootPath $root -LogDirectory $suiteDir
        $census = Invoke-LeakCensus -LeaderPid $process.Id -RootPath $root -Baseline $baseline
        $leaks = $census.Leaks; $problems = @($census.Problems)
        foreach ($note in $census.Notes) { Write-RunnerLine "    note: $note" }
        $verdict = Get-SuiteVerdict -Plan $Plan -Wait $wait -GoodbyePath $goodbyePath -ResultPath $resultPath -Nonce $nonce -Leaks $leaks
        $verdict | Add-Member -NotePropertyName ExitCode -NotePropertyValue $wait.ExitCode
        if ($verdict.Status -notin 'passed', 'failed') { $verdict.Reason += (Format-OutputTail -Wait $wait -Prefix $prefix) }
    } catch {
        # The runner's own failure around this suite still yields a (non-passing) verdict.
        $verdict = New-Verdict -Status crashed -Reason "the runner could not run it: $_"
        $verdict.Failed = 1
        $verdict | Add-Member -NotePropertyName ExitCode -NotePropertyValue $(if ($process -and $process.HasExited) { $process.ExitCode } else { $null })
    } finally {
        # Also reached on Ctrl+C: nothing of the suite may outlive the runner.
        if ($process -and -not $process.HasExited) { $null = Stop-SuiteProcess -LeaderPid $process.Id -RootPath $root }
        if ($root) { $problem = Remove-SuiteTempRoot -RootPath $root; if ($problem) { $problems += $problem } }
        if ($process) { $process.Dispose() }
    }
    if ($problems) {
        if ($verdict.Status -eq 'passed') { $verdict.Status = 'failed'; $verdict.Failed = [Math]::Max(1, $verdict.Failed) }
        $verdict.Reason = (@($verdict.Reason) + "the runner could not clean up: $($problems -join '; ')" | Where-Object { $_ }) -join '; '
    }
    $verdict | Add-Member -NotePropertyName Path -NotePropertyValue $Plan.Path
    $verdict | Add-Member -NotePropertyName Name -NotePropertyValue $Name
    $verdict | Add-Member -NotePropertyName Seconds -NotePropertyValue $clock.Elapsed.TotalSeconds
    Write-VerdictLine -Verdict $verdict
    $verdict
}

function Format-OutputTail {
    <# The last lines the child wrote on stderr, then on stdout, each with the suite's prefix, for a crash reason. #>
    param([Parameter(Mandatory)] $Wait, [Parameter(Mandatory)] [string] $Prefix)
    $tail = @()
    if ($Wait.StderrTail) { $tail += @('stderr tail:') + @($Wait.StderrTail | Select-Object -Last 10) }
    if ($Wait.StdoutTail) { $tail += @('stdout tail:') + @($Wait.StdoutTail | Select-Object -Last 10) }
    if (-not $tail) { $tail = @('(the child wrote nothing)') }
    "`n" + (@($tail | ForEach-Object { "      $Prefix$_" }) -join "`n")
}

function Write-VerdictLine {
    param([Parameter(Mandatory)] $Verdict)
    Write-RunnerLine ('--- {0,-9} {1}: {2} passed, {3} failed, {4} skipped in {5:0.0}s' -f
        $Verdict.Status.ToUpperInvariant(), $Verdict.Name, $Verdict.Passed, $Verdict.Failed, $Verdict.Skipped, $Verdict.Seconds)
    if ($Verdict.Reason) { Write-RunnerLine "    reason: $($Verdict.Reason)" }
}

function Write-Summary {
    <# summary.json, exactly the contract's shape, written to a temp file and renamed into place. #>
    param([Parameter(Mandatory)] [string] $Dir, [Parameter(Mandatory)] [bool] $Ok, [int] $Passed, [int] $Failed, [int] $Skipped, [object[]] $Verdicts = @())
    $summary = [ordered]@{
        ok      = $Ok
        passed  = $Passed
        failed  = $Failed
        skipped = $Skipped
        suites  = @($Verdicts | ForEach-Object {
                [ordered]@{ path = $_.Path; status = $_.Status; exitCode = $_.ExitCode; passed = $_.Passed; failed = $_.Failed; skipped = $_.Skipped; reason = $_.Reason }
            })
    }
    $target = Join-Path $Dir 'summary.json'
    $temp = "$target.tmp-$PID"
    Set-Content -LiteralPath $temp -Value (ConvertTo-Json -InputObject $summary -Depth 5) -Encoding utf8NoBOM
    [System.IO.File]::Move($temp, $target, $true)
}

function Invoke-TestRun {
    <# The whole run. Returns the exit code (0 or 1). #>
    $searchPath = Resolve-FullPath -Value $(if ($Path) { $Path } else { $PSScriptRoot })
    $outputRoot = Resolve-FullPath -Value $(if ($OutputDir) { $OutputDir } else { Join-Path $script:RepoRoot 'out/test-results' })
    Initialize-OutputDir -Dir $outputRoot

    if ($SuiteTimeoutSeconds -lt 1) {
        Write-RunnerLine "-SuiteTimeoutSeconds must be at least 1 (got $SuiteTimeoutSeconds): nothing was tested."
        Write-Summary -Dir $outputRoot -Ok $false -Failed 1
        Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
        return 1
    }
    $suites = @(Find-TestSuite -Path $searchPath)
    if (-not $suites) {
        # CTest: "No tests were found!!!" is an error, not an empty success.
        Write-RunnerLine "No suites (*.Tests.ps1) found under ${searchPath}: nothing was tested."
        Write-Summary -Dir $outputRoot -Ok $false -Failed 1
        Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
        return 1
    }
    $plans = @($suites | ForEach-Object { Get-SuitePlan -SuitePath $_ })
    Write-RunnerLine "Plan: $($plans.Count) suite(s) under $searchPath, each in its own pwsh, timeout ${SuiteTimeoutSeconds}s"
    foreach ($plan in $plans) { Write-RunnerLine ("  {0} (at least {1} test(s))" -f (Get-SuiteDisplayName -SuitePath $plan.Path -BasePath $searchPath), $plan.MinTests) }

    $verdicts = [System.Collections.Generic.List[object]]::new()
    for ($i = 0; $i -lt $plans.Count; $i++) {
        $name = Get-SuiteDisplayName -SuitePath $plans[$i].Path -BasePath $searchPath
        $verdicts.Add((Invoke-Suite -Plan $plans[$i] -Index ($i + 1) -OutputRoot $outputRoot -Name $name))
    }

    $passed = [int] ($verdicts | Measure-Object -Property Passed -Sum).Sum
    $failed = [int] ($verdicts | Measure-Object -Property Failed -Sum).Sum
    $skipped = [int] ($verdicts | Measure-Object -Property Skipped -Sum).Sum
    # Every planned suite has exactly one verdict, and every one of them passed.
    $ok = $verdicts.Count -eq $plans.Count -and -not ($verdicts | Where-Object Status -NE 'passed') -and $failed -eq 0
    Write-Summary -Dir $outputRoot -Ok $ok -Passed $passed -Failed $failed -Skipped $skipped -Verdicts $verdicts

    Write-RunnerLine ''
    Write-RunnerLine 'Suites:'
    foreach ($v in $verdicts) { Write-RunnerLine ('  {0,-9} {1} ({2} passed, {3} failed, {4} skipped, {5:0.0}s)' -f $v.Status, $v.Name, $v.Passed, $v.Failed, $v.Skipped, $v.Seconds) }
    Write-RunnerLine "Results: $(Join-Path $outputRoot 'summary.json')"
    if ($ok) { Write-RunnerLine 'ALL TESTS PASSED' }
    Write-RunnerLine "Pester: $passed passed, $failed failed, $skipped skipped"
    if ($ok) { 0 } else { 1 }
}

$code = 1
try {
    . (Join-Path $PSScriptRoot 'Runner/RunnerPlan.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerProcess.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerCensus.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerVerdict.ps1')
    $code = Invoke-TestRun
} catch {
    # A runner bug is a failed run, never a green one; the last line keeps its shape.
    Write-RunnerLine "The runner itself failed: $_"
    Write-RunnerLine ($_.ScriptStackTrace)
    Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
    $code = 1
}
exit $code
