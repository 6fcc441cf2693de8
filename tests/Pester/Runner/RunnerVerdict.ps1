# One verdict per suite, from evidence that is checked against itself, never from an exit code
# alone (Maven Surefire: "the forked VM terminated without saying goodbye"). Dot-sourced by
# Invoke-TestRun.ps1; not a suite.
#
# Statuses, first match wins:
#   timedout  ran past -SuiteTimeoutSeconds (its processes were ended)
#   crashed   no goodbye / wrong nonce / Pester itself threw / exit code contradicts the goodbye /
#             fewer tests than planned
#   noresults Pester returned no run, or the results file is missing, not the one the child saw,
#             unreadable, or disagrees with the goodbye's counts
#   failed    a test, block (BeforeAll/AfterAll) or container (discovery, parse) failed, the file
#             does not parse, Pester's own result is not Passed, or the suite leaked
#   empty     ran no test at all
#   passed    none of the above

function Read-Goodbye {
    <# The child's goodbye if it is there, parses, and carries this run's nonce; else .Problem says why. #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Nonce)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return [pscustomobject]@{ Record = $null; Problem = 'ended without saying goodbye (no status record was written after Pester returned)' } }
    try { $record = Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json -ErrorAction Stop }
    catch { return [pscustomobject]@{ Record = $null; Problem = "its goodbye record does not parse: $_" } }
    if ($record.nonce -cne $Nonce) { return [pscustomobject]@{ Record = $null; Problem = 'its goodbye record carries the wrong nonce (not written by this run)' } }
    [pscustomobject]@{ Record = $record; Problem = $null }
}

function Test-ResultFile {
    <#
    Checks the exported NUnit file against the goodbye: it exists, is byte-for-byte the file the
    child hashed, parses, and its test cases agree with Pester's counts. Returns a problem or $null.
    #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] $Goodbye)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return "no results file was exported ($Path)" }
    if (-not $Goodbye.results.sha256) { return 'the child saw no results file after Pester returned' }
    if ((Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash -ne $Goodbye.results.sha256) { return 'the results file is not the one the child exported (hash differs)' }
    try { $xml = [xml] (Get-Content -LiteralPath $Path -Raw) } catch { return "the results file does not parse: $_" }
    if ($xml.DocumentElement.LocalName -ne 'test-results') { return "the results file is not NUnit 2.5 (root <$($xml.DocumentElement.LocalName)>)" }
    $cases = @($xml.SelectNodes('//test-case'))
    $fileCounts = [ordered]@{
        total  = $cases.Count
        passed = @($cases | Where-Object { $_.GetAttribute('result') -eq 'Success' }).Count
        failed = @($cases | Where-Object { $_.GetAttribute('result') -in 'Failure', 'Error' }).Count
    }
    $run = $Goodbye.run
    $headerTotal = $xml.DocumentElement.GetAttribute('total')
    if ($headerTotal -ne "$($fileCounts.total)" -or $fileCounts.total -ne $run.total -or
        $fileCounts.passed -ne $run.passed -or $fileCounts.failed -ne $run.failed) {
        return ("the results file disagrees with the goodbye: file total={0} passed={1} failed={2} (header total={3}); goodbye total={4} passed={5} failed={6}" -f
            $fileCounts.total, $fileCounts.passed, $fileCounts.failed, $headerTotal, $run.total, $run.passed, $run.failed)
    }
    $null
}

function Get-FailureSummary {
    <# Why a suite whose goodbye is sound still failed, or $null. #>
    param([Parameter(Mandatory)] $Run, [string[]] $ParseErrors)
    $why = @()
    if ($Run.failed -gt 0) { $why += "$($Run.failed) test(s) failed" }
    if ($Run.failedBlocks -gt 0) { $why += "$($Run.failedBlocks) block(s) failed (BeforeAll/AfterAll): $(@($Run.failedBlockNames) -join ', ')" }
    if ($Run.failedContainers -gt 0) { $why += "$($Run.failedContainers) container(s) failed (discovery or parse): $(@($Run.failedContainerNames) -join ', ')" }
    if ($ParseErrors) { $why += "the file does not parse: $($ParseErrors -join '; ')" }
    if ($why) { return $why -join '; ' }
    $null
}

function New-Verdict {
    param([string] $Status, [string] $Reason, $Run)
    [pscustomobject]@{
        Status  = $Status
        Reason  = if ($Reason) { $Reason } else { $null }
        Passed  = if ($Run) { [int] $Run.passed } else { 0 }
        Failed  = if ($Run) { [int] $Run.failed } else { 0 }
        # Inconclusive and not-run tests did not pass either; they are reported with the skipped.
        Skipped = if ($Run) { [int] $Run.skipped + [int] $Run.inconclusive + [int] $Run.notRun } else { 0 }
    }
}

function Get-SuiteVerdict {
    <#
    The one verdict for a suite. Counts come from the goodbye when it is sound; a suite that did
    not pass but has no failed test gets failed = 1, so the final line can never read as green.
    #>
    param(
        [Parameter(Mandatory)] $Plan,
        [Parameter(Mandatory)] $Wait,          # from Wait-SuiteChild
        [Parameter(Mandatory)] [string] $GoodbyePath,
        [Parameter(Mandatory)] [string] $ResultPath,
        [Parameter(Mandatory)] [string] $Nonce,
        [string[]] $Leaks = @()
    )
    $verdict = Get-RawVerdict -Plan $Plan -Wait $Wait -GoodbyePath $GoodbyePath -ResultPath $ResultPath -Nonce $Nonce
    if ($Leaks) {
        if ($verdict.Status -eq 'passed') { $verdict.Status = 'failed' }
        $verdict.Reason = (@($verdict.Reason, "it left things behind (the runner removed them): $($Leaks -join '; ')") | Where-Object { $_ }) -join '; '
    }
    if ($verdict.Status -ne 'passed' -and $verdict.Failed -lt 1) { $verdict.Failed = 1 }
    $verdict
}

function Get-RawVerdict {
    param($Plan, $Wait, [string] $GoodbyePath, [string] $ResultPath, [string] $Nonce)
    if ($Wait.TimedOut) {
        $reason = 'ran past the suite timeout; its process group was ended (TERM, then KILL)'
        if ($Wait.Survivors) { $reason += "; still alive after SIGKILL: $(@($Wait.Survivors | ForEach-Object { "$($_.Pid) $($_.CmdLine)" }) -join ', ')" }
        return New-Verdict -Status timedout -Reason $reason
    }
    $goodbye = Read-Goodbye -Path $GoodbyePath -Nonce $Nonce
    if ($goodbye.Problem) { return New-Verdict -Status crashed -Reason "exited with code $($Wait.ExitCode) and $($goodbye.Problem)" }
    $record = $goodbye.Record
    if ($record.error) { return New-Verdict -Status crashed -Reason "Invoke-Pester itself failed: $($record.error)" }
    if ($null -eq $record.run) { return New-Verdict -Status noresults -Reason 'Invoke-Pester returned no run object (see the suite output)' }
    $run = $record.run
    $resultProblem = Test-ResultFile -Path $ResultPath -Goodbye $record
    if ($resultProblem) { return New-Verdict -Status noresults -Reason $resultProblem -Run $run }

    $failure = Get-FailureSummary -Run $run -ParseErrors $Plan.ParseErrors
    # The child exits 0 exactly when its goodbye shows no failure; anything else means something
    # happened after the goodbye (a kill, a crash in shutdown) and nothing can be vouched for.
    $expectedExit = if ($run.failed -or $run.failedBlocks -or $run.failedContainers) { 1 } else { 0 }
    if ($Wait.ExitCode -ne $expectedExit) { return New-Verdict -Status crashed -Reason "exited with code $($Wait.ExitCode) after a goodbye that implies $expectedExit" -Run $run }
    if ($failure) { return New-Verdict -Status failed -Reason $failure -Run $run }
    if ($run.total -lt $Plan.MinTests) { return New-Verdict -Status crashed -Reason "reported $($run.total) test(s), fewer than the $($Plan.MinTests) its syntax tree promises (an exit or return dropped the rest?)" -Run $run }
    if ($run.total -eq 0) { return New-Verdict -Status empty -Reason 'ran no test' -Run $run }
    if ($run.result -ne 'Passed') { return New-Verdict -Status failed -Reason "Pester's own result is '$($run.result)'" -Run $run }
    New-Verdict -Status passed -Reason $null -Run $run
}
