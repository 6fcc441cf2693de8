# One verdict per suite, from evidence that is checked against itself, never from an exit code
# alone (Maven Surefire: "the forked VM terminated without saying goodbye"). Dot-sourced by
# Invoke-TestRun.ps1; not a suite.
#
# Statuses, first match wins:
#   timedout  ran past -SuiteTimeoutSeconds (its processes were ended)
#   crashed   no goodbye / goodbye not signed with this suite's key / Pester itself threw / exit
#             code contradicts the goodbye / discovery did not reach the end of the file /
#             fewer tests than planned
#   noresults Pester returned no run, or the results file is missing, not the one the child
#             hashed, unreadable, or disagrees with the goodbye's counts
#   leaked    a process it started was still running after it ended (the runner ended it)
#   failed    a test, block (BeforeAll/AfterAll) or container (discovery, parse) failed, the file
#             does not parse, Pester's own result is not Passed, or it left other things behind
#   empty     no test passed: all skipped, inconclusive or not run, or none at all
#   passed    none of the above
#
# Counts: Passed/Skipped are Pester's (inconclusive and not-run count as skipped). Failed is the
# number of failed tests, plus 1 when the suite did not pass for a reason of its own (any status
# but passed/failed, or failed with no failed test): that one is the suite's own failing test
# case in junit.xml, so junit.xml and summary.json always agree.

$script:MaxEvidenceBytes = 64MB    # a goodbye or results file larger than this is not read
$script:VerdictSeconds = 30        # the verdict phase's own deadline (reading and parsing evidence)

function Get-RunnerUid {
    if ('MyHvRunnerNative' -as [type]) { return [MyHvRunnerNative]::geteuid() }
    [uint32] ((Get-Content -LiteralPath /proc/self/status | Where-Object { $_ -like 'Uid:*' }) -split '\s+')[2]
}

function Read-Evidence {
    <#
    Reads a file the child wrote, only if it is a regular file (not a FIFO, device, symlink or
    folder: a FIFO would block the reader forever), owned by the runner's user, and not huge.
    Returns .Text or .Problem.
    #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $What)
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if (-not $item) { return [pscustomobject]@{ Text = $null; Problem = "no $What was written" } }
    $stat = $item.UnixStat
    if ($item.LinkType -or $stat.ItemType -ne 'File') { return [pscustomobject]@{ Text = $null; Problem = "its $What is not a regular file ($($item.LinkType ?? $stat.ItemType)); not read" } }
    if ($stat.UserId -ne (Get-RunnerUid)) { return [pscustomobject]@{ Text = $null; Problem = "its $What is owned by uid $($stat.UserId), not the runner's; not read" } }
    if ($item.Length -gt $script:MaxEvidenceBytes) { return [pscustomobject]@{ Text = $null; Problem = "its $What is larger than $($script:MaxEvidenceBytes / 1MB) MiB; not read" } }
    try { [pscustomobject]@{ Text = [System.IO.File]::ReadAllText($item.FullName); Problem = $null } }
    catch { [pscustomobject]@{ Text = $null; Problem = "its $What cannot be read: $($_.Exception.Message)" } }
}

function Read-Goodbye {
    <# The child's goodbye if it is a sound record signed with this suite's key; else .Problem says why. #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [byte[]] $Key)
    $file = Read-Evidence -Path $Path -What 'goodbye record'
    if ($file.Problem) {
        $why = if ($file.Problem -like 'no *') { 'ended without saying goodbye (no status record was written after Pester returned)' } else { $file.Problem }
        return [pscustomobject]@{ Record = $null; Problem = $why }
    }
    try { $outer = $file.Text | ConvertFrom-Json -ErrorAction Stop } catch { return [pscustomobject]@{ Record = $null; Problem = "its goodbye record does not parse: $_" } }
    if ($outer -isnot [pscustomobject] -or $outer.record -isnot [string] -or $outer.mac -isnot [string]) { return [pscustomobject]@{ Record = $null; Problem = 'its goodbye record has the wrong shape' } }
    $hmac = [System.Security.Cryptography.HMACSHA256]::new($Key)
    try { $expected = [Convert]::ToHexString($hmac.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($outer.record))) } finally { $hmac.Dispose() }
    if (-not [System.Security.Cryptography.CryptographicOperations]::FixedTimeEquals([System.Text.Encoding]::ASCII.GetBytes($expected), [System.Text.Encoding]::ASCII.GetBytes($outer.mac.ToUpperInvariant()))) {
        return [pscustomobject]@{ Record = $null; Problem = 'its goodbye record is not signed with this suite''s key (forged, or not written by this run)' }
    }
    try { $record = $outer.record | ConvertFrom-Json -ErrorAction Stop } catch { return [pscustomobject]@{ Record = $null; Problem = "its signed goodbye record does not parse: $_" } }
    [pscustomobject]@{ Record = $record; Problem = $null }
}

function Read-ResultFile {
    <#
    The results file the child wrote (JSON, one record per test): it must be the file the child
    hashed, parse, and agree with the goodbye's counts. Returns .Tests or .Problem.
    #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] $Goodbye)
    if (-not $Goodbye.results) { return [pscustomobject]@{ Tests = @(); Problem = 'the child could not export its results file after Pester returned' } }
    $file = Read-Evidence -Path $Path -What 'results file'
    if ($file.Problem) { return [pscustomobject]@{ Tests = @(); Problem = $file.Problem } }
    $hash = [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($file.Text)))
    if ($hash -ne $Goodbye.results) {
        # The child hashes the file's bytes; re-hash the bytes too (the text round trip could differ only for invalid UTF-8).
        $hash = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
        if ($hash -ne $Goodbye.results) { return [pscustomobject]@{ Tests = @(); Problem = 'the results file is not the one the child exported (hash differs)' } }
    }
    try { $doc = $file.Text | ConvertFrom-Json -ErrorAction Stop } catch { return [pscustomobject]@{ Tests = @(); Problem = "the results file does not parse: $_" } }
    $tests = @($doc.tests)
    $run = $Goodbye.run
    $fileCounts = [ordered]@{
        total   = $tests.Count
        passed  = @($tests | Where-Object result -EQ 'Passed').Count
        failed  = @($tests | Where-Object result -EQ 'Failed').Count
        skipped = @($tests | Where-Object result -In 'Skipped', 'Inconclusive', 'NotRun').Count
    }
    if ($fileCounts.total -ne $run.total -or $fileCounts.passed -ne $run.passed -or $fileCounts.failed -ne $run.failed -or
        $fileCounts.skipped -ne ($run.skipped + $run.inconclusive + $run.notRun)) {
        return [pscustomobject]@{ Tests = $tests; Problem = ("the results file disagrees with the goodbye: file total={0} passed={1} failed={2} skipped={3}; goodbye total={4} passed={5} failed={6}" -f
                $fileCounts.total, $fileCounts.passed, $fileCounts.failed, $fileCounts.skipped, $run.total, $run.passed, $run.failed) }
    }
    [pscustomobject]@{ Tests = $tests; Problem = $null }
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

# A prerequisite that no package on this platform provides (the Cloud Hypervisor binary) may be
# skipped even under CI=true, because the summary names it: Skip-UnlessPrerequisite -NotInstallable
# skips with this reason text. Such a skip is still a skip: a suite of nothing else is `empty`.
$script:NotInstallablePattern = 'not installable on this platform: ([^\r\n]+)'

function Get-NotInstallableName {
    <# The prerequisites a suite's skipped tests name as not installable on this platform, each once, sorted. #>
    param([object[]] $Tests = @())
    $names = [System.Collections.Generic.SortedSet[string]]::new([System.StringComparer]::Ordinal)
    foreach ($t in $Tests) {
        if ($t.result -ne 'Skipped' -or -not $t.message) { continue }
        $m = [regex]::Match([string] $t.message, $script:NotInstallablePattern)
        if ($m.Success) { $name = $m.Groups[1].Value.Trim(); if ($name) { $null = $names.Add($name.Substring(0, [Math]::Min(200, $name.Length))) } }
    }
    [string[]] @($names)
}

function New-Verdict {
    param([string] $Status, [string] $Reason, $Run, [object[]] $Tests = @())
    [pscustomobject]@{
        Status      = $Status
        Reason      = if ($Reason) { $Reason } else { $null }
        Passed      = if ($Run) { [int] $Run.passed } else { 0 }
        FailedTests = if ($Run) { [int] $Run.failed } else { 0 }
        Failed      = 0
        # Inconclusive and not-run tests did not pass either; they are reported with the skipped.
        Skipped     = if ($Run) { [int] $Run.skipped + [int] $Run.inconclusive + [int] $Run.notRun } else { 0 }
        Tests       = @($Tests)
        NotInstallable = Get-NotInstallableName -Tests $Tests
        ExitCode    = $null
    }
}

function Complete-VerdictCount {
    <# Failed = failed tests + 1 for the suite's own failure (see the header); call after every change of Status. #>
    param([Parameter(Mandatory)] $Verdict)
    $own = $Verdict.Status -ne 'passed' -and ($Verdict.Status -ne 'failed' -or $Verdict.FailedTests -eq 0)
    $Verdict.Failed = $Verdict.FailedTests + [int] $own
    $Verdict
}

function Get-SuiteVerdict {
    <#
    The one verdict for a suite. Counts come from the goodbye when it is sound; a suite that did
    not pass always has Failed >= 1, so the final line can never read as green.
    #>
    param(
        [Parameter(Mandatory)] $Plan,
        [Parameter(Mandatory)] $Wait,          # ExitCode, TimedOut, Survivors
        [Parameter(Mandatory)] [string] $GoodbyePath,
        [Parameter(Mandatory)] [string] $ResultPath,
        [Parameter(Mandatory)] [byte[]] $Key,
        [string[]] $LeakedProcesses = @(),
        [string[]] $Leaks = @()
    )
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $verdict = Get-RawVerdict -Plan $Plan -Wait $Wait -GoodbyePath $GoodbyePath -ResultPath $ResultPath -Key $Key
    if ($clock.Elapsed.TotalSeconds -gt $script:VerdictSeconds) {
        $verdict = New-Verdict -Status noresults -Reason "reading its evidence took longer than the verdict deadline ($($script:VerdictSeconds)s)"
    }
    if ($LeakedProcesses) {
        if ($verdict.Status -in 'passed', 'failed', 'empty') { $verdict.Status = 'leaked' }
        $verdict.Reason = (@($verdict.Reason, "processes it started were still running after it ended (the runner ended them): $($LeakedProcesses -join '; ')") | Where-Object { $_ }) -join '; '
    }
    if ($Leaks) {
        if ($verdict.Status -in 'passed', 'empty') { $verdict.Status = 'failed' }
        $verdict.Reason = (@($verdict.Reason, "it left things behind (the runner removed them): $($Leaks -join '; ')") | Where-Object { $_ }) -join '; '
    }
    $verdict.ExitCode = $Wait.ExitCode
    Complete-VerdictCount -Verdict $verdict
}

function Get-RawVerdict {
    param($Plan, $Wait, [string] $GoodbyePath, [string] $ResultPath, [byte[]] $Key)
    if ($Wait.TimedOut) {
        $reason = 'ran past the suite timeout; its processes were ended (TERM, then KILL)'
        if ($Wait.Survivors) { $reason += "; still alive after SIGKILL: $(@($Wait.Survivors | ForEach-Object { "$($_.Pid) $($_.CmdLine)" }) -join ', ')" }
        return New-Verdict -Status timedout -Reason $reason
    }
    $goodbye = Read-Goodbye -Path $GoodbyePath -Key $Key
    if ($goodbye.Problem) { return New-Verdict -Status crashed -Reason "exited with code $($Wait.ExitCode) and $($goodbye.Problem)" }
    $record = $goodbye.Record
    if ($record.error) { return New-Verdict -Status crashed -Reason "Invoke-Pester itself failed: $($record.error)" }
    if ($null -eq $record.run) { return New-Verdict -Status noresults -Reason 'Invoke-Pester returned no run object (see the suite output)' }
    $run = $record.run
    $results = Read-ResultFile -Path $ResultPath -Goodbye $record
    if ($results.Problem) { return New-Verdict -Status noresults -Reason $results.Problem -Run $run }
    $tests = $results.Tests

    # The child exits 0 exactly when its goodbye shows no failure; anything else means something
    # happened after the goodbye (a kill, a crash in shutdown) and nothing can be vouched for.
    $expectedExit = if ($run.failed -or $run.failedBlocks -or $run.failedContainers) { 1 } else { 0 }
    if ($Wait.ExitCode -ne $expectedExit) { return New-Verdict -Status crashed -Reason "exited with code $($Wait.ExitCode) after a goodbye that implies $expectedExit" -Run $run -Tests $tests }
    $failure = Get-FailureSummary -Run $run -ParseErrors $Plan.ParseErrors
    if ($run.failedContainers -gt 0 -or $Plan.ParseErrors) { return New-Verdict -Status failed -Reason $failure -Run $run -Tests $tests }
    # Discovery must reach the end of the file: a truncating statement, or a Describe/Context/It
    # line on every path that Pester never discovered, means it stopped early.
    if ($Plan.Truncations) { return New-Verdict -Status crashed -Reason "its discovery does not reach the end of the file: $($Plan.Truncations -join '; ')" -Run $run -Tests $tests }
    if ($Plan.DiscoveryExits -and $null -ne $run.discoveryExitCode) { return New-Verdict -Status crashed -Reason "its discovery did not reach the end of the file: an exit (line $($Plan.DiscoveryExits -join ', ')) ended it with code $($run.discoveryExitCode)" -Run $run -Tests $tests }
    $reached = [System.Collections.Generic.HashSet[int]]::new([int[]] @($run.reachedLines))
    $missed = @($Plan.MustReachLines | Where-Object { -not $reached.Contains($_) })
    if ($missed) { return New-Verdict -Status crashed -Reason "its discovery did not reach the end of the file: Describe/Context/It on line(s) $($missed -join ', ') never ran (an exit or return dropped them)" -Run $run -Tests $tests }
    if ($run.total -lt $Plan.MinTests) { return New-Verdict -Status crashed -Reason "reported $($run.total) test(s), fewer than the $($Plan.MinTests) its syntax tree promises (an exit or return dropped the rest?)" -Run $run -Tests $tests }
    if ($failure) { return New-Verdict -Status failed -Reason $failure -Run $run -Tests $tests }
    if ($run.result -ne 'Passed') { return New-Verdict -Status failed -Reason "Pester's own result is '$($run.result)'" -Run $run -Tests $tests }
    if ($run.passed -lt 1) {
        $what = if ($run.total -eq 0) { 'ran no test' } else { "no test passed ($($run.skipped) skipped, $($run.inconclusive) inconclusive, $($run.notRun) not run): no test run is no pass" }
        return New-Verdict -Status empty -Reason $what -Run $run -Tests $tests
    }
    New-Verdict -Status passed -Reason $null -Run $run -Tests $tests
}
