# The runner's own tests: Invoke-TestRun.ps1 is run as a child pwsh over each fixture folder in
# tests/RunnerFixtures (kept outside tests/Pester so default discovery never finds them), and its
# exit code, summary.json, per-suite status and counts and its final line are checked.
# This suite is itself run by the runner, so there are two runners nested: the inner ones nest
# their MYHV_TEST_ROOTs inside ours and print their suites' lines with their own prefixes.
# Inner runs use -Parallel 2 (SerialAll: -Parallel 1 over every fixture, compared verdict by verdict;
# HangSerial: the Hang fixture with -Parallel 1, apart so that its timeout does not hold up SerialAll).

BeforeDiscovery {
    $scenarios = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'RunnerScenarios.psd1')).Scenarios
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'RunnerTestSupport.ps1')
    $script:RepoRoot = Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $PSScriptRoot))
    $script:Runner = Join-Path $RepoRoot 'tests/Pester/Invoke-TestRun.ps1'
    $script:FixtureRoot = Join-Path $RepoRoot 'tests/RunnerFixtures'
    $base = if ($env:MYHV_TEST_ROOT) { $env:MYHV_TEST_ROOT } else { [System.IO.Path]::GetTempPath() }
    $script:WorkRoot = Join-Path $base ("rt-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $WorkRoot -Force

    # All scenario runs up front, three at a time: most of each run is pwsh and Pester starting.
    $all = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'RunnerScenarios.psd1')).Scenarios
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $script:Runs = Invoke-RunnerScenario -Scenarios $all -FixtureRoot $FixtureRoot -WorkRoot $WorkRoot -RunnerPath $Runner -Throttle 3
    Write-Host ("{0} runner runs took {1:0.0}s" -f $Runs.Count, $clock.Elapsed.TotalSeconds)
    # Whatever any inner run's suites started, by their environment marker, once every run is over.
    $script:Survivors = @(Get-SurvivingInnerProcess)
    function Find-SuiteVerdict([object[]] $Suites, $Expected) {
        if ($Expected.ContainsKey('FileLike')) { return @($Suites | Where-Object { (Split-Path -Leaf $_.path) -like $Expected.FileLike }) }
        @($Suites | Where-Object { (Split-Path -Leaf $_.path) -ceq $Expected.File })
    }
}

AfterAll {
    if ($script:WorkRoot -and (Test-Path -LiteralPath $script:WorkRoot)) { Remove-Item -LiteralPath $script:WorkRoot -Recurse -Force }
}

Describe 'Invoke-TestRun over fixture <Name>' -ForEach @($scenarios | Where-Object { -not $_.ContainsKey('Serial') }) {
    BeforeAll {
        $run = $Runs[$Name]
        $suiteExpectations = @($Suites)
        $FinalLike = Get-Variable -Name FinalLike -ValueOnly -ErrorAction Ignore
    }

    It 'exits with <ExitCode> (only ever 0 or 1)' {
        $run.ExitCode | Should -Be $ExitCode
    }

    It 'ends with its own final line, after which nothing is printed' {
        if ($FinalLike) { $run.Lines[-1] | Should -Match "^$FinalLike$" } else { $run.Lines[-1] | Should -BeExactly $Final }
        if ($ExitCode -ne 0) { $run.Lines[-1] | Should -Match '^Pester: \d+ passed, [1-9]\d* failed, \d+ skipped$' }
    }

    It 'prints ALL TESTS PASSED, right before the last line, only when it exits 0' {
        # A line of its own: a suite NAME holding those words is printed escaped inside other lines.
        $claims = @($run.Lines | Where-Object { $_ -match '^\s*ALL TESTS PASSED' })
        if ($ExitCode -eq 0) {
            $claims | Should -HaveCount 1
            $run.Lines[-2] | Should -BeExactly 'ALL TESTS PASSED'
        } else {
            $claims | Should -HaveCount 0
        }
    }

    It 'writes nothing to stderr and shows suite output only behind a [suite] prefix' {
        $run.Stderr | Should -BeNullOrEmpty
        $suiteLike = @($run.Lines | Where-Object { $_ -match 'Describing |Running tests from|Tests completed|\[[+!-]\] |hanging: pwsh|crashing on purpose' })
        foreach ($line in $suiteLike) { $line | Should -Match '^\s*\[[^\]]+\] ' }
    }

    It 'writes summary.json in the contract''s shape, agreeing with the final line' {
        $summary = $run.Summary
        $summary | Should -Not -BeNullOrEmpty
        @($summary.PSObject.Properties.Name | Sort-Object) | Should -Be @('failed', 'ok', 'passed', 'skipped', 'suites')
        $summary.ok | Should -Be ($ExitCode -eq 0)
        $counts = "Pester: $($summary.passed) passed, $($summary.failed) failed, $($summary.skipped) skipped"
        if ($FinalLike) { $counts | Should -Match "^$FinalLike$" } else { $counts | Should -BeExactly $Final }
        foreach ($suite in @($summary.suites)) {
            # The contract's fields, plus only notInstallable (the prerequisites its skips name as not
            # installable here) and seconds (null for a suite the runner's interruption ended).
            @($suite.PSObject.Properties.Name | Sort-Object) | Should -Be @('exitCode', 'failed', 'notInstallable', 'passed', 'path', 'reason', 'seconds', 'skipped', 'status')
            $suite.status | Should -BeIn @('passed', 'failed', 'crashed', 'timedout', 'noresults', 'empty', 'leaked')
            if ("$($suite.reason)" -like 'runner interrupted*') { $suite.seconds | Should -BeNullOrEmpty } else { $suite.seconds | Should -BeGreaterOrEqual 0 }
        }
        if (@($summary.suites).Count) {
            ($summary.suites | Measure-Object -Property passed -Sum).Sum | Should -Be $summary.passed
            ($summary.suites | Measure-Object -Property failed -Sum).Sum | Should -Be $summary.failed
            ($summary.suites | Measure-Object -Property skipped -Sum).Sum | Should -Be $summary.skipped
        }
    }

    It 'gives every suite exactly one verdict with the expected status and counts' {
        @($run.Summary.suites) | Should -HaveCount $suiteExpectations.Count
        foreach ($expected in $suiteExpectations) {
            $found = Find-SuiteVerdict -Suites $run.Summary.suites -Expected $expected
            $found | Should -HaveCount 1 -Because "$($expected.File) must have one verdict"
            Assert-SuiteVerdict -Suite $found[0] -Expected $expected
        }
    }

    It 'lists the suites in plan order (the summary lines, summary.json), whatever order they finished in' {
        $at = [Array]::FindIndex([string[]] $run.Lines, [Predicate[string]] { param($l) $l -match '^Plan: \d+ suite' })
        $planned = @(if ($at -ge 0) {
                $run.Lines | Select-Object -Skip ($at + 1) | Where-Object { $_ -match '^  (.+) \(at least \d+ test\(s\)(, host-exclusive)?\)$' } | ForEach-Object { $Matches[1] }
            })
        $listed = @($run.Lines | Where-Object { $_ -match '^  (?:passed|failed|crashed|timedout|noresults|empty|leaked)\s+(.+) \(\d+ passed, \d+ failed, \d+ skipped, [\d.]+s\)$' } | ForEach-Object { $Matches[1] })
        $planned | Should -HaveCount @($run.Summary.suites).Count
        ($listed -join "`n") | Should -BeExactly ($planned -join "`n")
        [string[]] $paths = @($run.Summary.suites | ForEach-Object path)
        [string[]] $sorted = $paths.Clone(); [Array]::Sort($sorted, [StringComparer]::Ordinal)
        ($paths -join "`n") | Should -BeExactly ($sorted -join "`n") -Because 'the plan is in ordinal order of the paths'
    }

    It 'writes junit.xml that validates against the JUnit schema and agrees with summary.json' {
        $junit = Join-Path $run.OutputDir 'junit.xml'
        $junit | Should -Exist
        $doc = Read-JUnitReport -Path $junit
        $root = $doc.DocumentElement
        [int] $root.failures | Should -Be $run.Summary.failed
        [int] $root.skipped | Should -Be $run.Summary.skipped
        [int] $root.tests | Should -Be ($run.Summary.passed + $run.Summary.failed + $run.Summary.skipped)
        @($root.SelectNodes('testsuite')).Count | Should -Be ([Math]::Max(1, @($run.Summary.suites).Count))
        @($doc.SelectNodes('//testcase[failure]')).Count | Should -Be $run.Summary.failed
        @($doc.SelectNodes('//testcase[skipped]')).Count | Should -Be $run.Summary.skipped
        @($doc.SelectNodes('//testcase[not(failure) and not(skipped)]')).Count | Should -Be $run.Summary.passed
    }

    It 'writes summary.md with one row per suite' {
        $md = Get-Content -LiteralPath (Join-Path $run.OutputDir 'summary.md')
        @($md | Where-Object { $_ -match '^\| (passed|failed|crashed|timedout|noresults|empty|leaked) \|' }) | Should -HaveCount @($run.Summary.suites).Count
        ($md -join "`n") | Should -BeLike "*$($run.Summary.passed) passed, $($run.Summary.failed) failed, $($run.Summary.skipped) skipped*"
        # ... naming each suite's not-installable prerequisites, and no such section without them.
        $named = @($run.Summary.suites | Where-Object { @($_.notInstallable).Count })
        foreach ($s in $named) { ($md -join "`n") | Should -BeLike "*Skipped: not installable on this platform*$(@($s.notInstallable) -join ', ')*" }
        if (-not $named) { ($md -join "`n") | Should -Not -BeLike '*not installable on this platform*' }
        # ... and appends it to the CI step summary named by GITHUB_STEP_SUMMARY.
        $step = Get-Content -LiteralPath (Join-Path $WorkRoot "$Name/step-summary.md") -Raw
        $step.Contains((Get-Content -LiteralPath (Join-Path $run.OutputDir 'summary.md') -Raw).Trim()) | Should -BeTrue
    }

    It 'leaves no process of its suites running (by environment marker)' {
        $Survivors | Should -BeNullOrEmpty
    }

    It 'never prints a line that reads as the runner''s own verdict but the last' {
        @($run.Lines | Select-Object -SkipLast 1 | Where-Object { $_ -match '^Pester: \d+ passed' -and $_ -notmatch '^Pester: 99 passed' }) | Should -HaveCount 0
    }
}

Describe 'Invoke-TestRun leaves no process of fixture <Name> running' -ForEach @($scenarios | Where-Object { $_.ContainsKey('PidFile') }) {
    It 'ended the processes the fixture started (the suite''s pwsh and its child, or its leaks)' {
        $pidFile = Join-Path $WorkRoot "$Name/fx/$PidFile"
        $pidFile | Should -Exist -Because 'the fixture records the processes it started'
        $pids = @(Get-Content -LiteralPath $pidFile | ForEach-Object { [int] $_ })
        $pids | Should -HaveCount 2
        foreach ($p in $pids) { Test-ProcessGone -ProcessId $p | Should -BeTrue -Because "process $p must be gone" }
    }
}

Describe 'Invoke-TestRun restarts itself with its JIT settings' {
    It 'in place: the runner the JitSettings suite found is the process that was started' {
        $recorded = Join-Path $WorkRoot 'JitSettings/fx/runner.pid'
        $recorded | Should -Exist
        [int] (Get-Content -LiteralPath $recorded) | Should -Be $Runs['JitSettings'].Pid
    }
}

Describe 'Invoke-TestRun gives each suite a temp folder that goes with its temp root' {
    BeforeAll {
        $temp, $killedPid = @(Get-Content -LiteralPath (Join-Path $WorkRoot 'TempFiles/fx/temp.txt'))
    }
    It 'the suite''s TMPDIR was inside its own temp root' {
        $temp | Should -Match '/mhT-[A-Za-z0-9]{6}/tmp/?$'
    }
    It 'is gone after the run, with the killed pwsh''s diagnostic socket and debug pipes' {
        $temp | Should -Not -Exist
        foreach ($folder in '/tmp', [System.IO.Path]::GetTempPath()) {
            @(Get-ChildItem -LiteralPath $folder -Filter "*-$killedPid-*" | Where-Object Name -Match '^(dotnet-diagnostic|clr-debug-pipe)-') | Should -HaveCount 0
        }
    }
}

Describe 'Invoke-TestRun keeps the goodbye key out of the suite''s reach' {
    It 'the hostile suite found no key on the command line, in the environment or in any variable it could reach' {
        $found = Join-Path $WorkRoot 'ForgedGoodbye/fx/found.txt'
        $found | Should -Exist
        @(Get-Content -LiteralPath $found | Where-Object { $_ }) | Should -HaveCount 0
    }
}

Describe 'Invoke-TestRun cancelled with <Name>' -ForEach @($scenarios | Where-Object { $_.ContainsKey('Signal') }) {
    BeforeAll { $run = $Runs[$Name] }

    It 'removed the interrupted suites'' temp roots' -Skip:(-not $env:MYHV_TEST_ROOT) {
        @(Get-ChildItem -LiteralPath $env:MYHV_TEST_ROOT -Directory -Filter 'mhT-*') | Should -HaveCount 0
    }

    It 'refused a second run on the same -OutputDir while it ran' -Skip:(-not $LockProbe) {
        $run.Second | Should -Not -BeNullOrEmpty
        $run.Second.ExitCode | Should -Be 1
        $run.Second.Lines[-1] | Should -BeExactly 'Pester: 0 passed, 1 failed, 0 skipped'
        ($run.Second.Lines -join "`n") | Should -BeLike '*Another test run is using the output folder*'
    }
}

Describe 'Invoke-TestRun -Parallel 1 over every fixture at once (Hang: HangSerial, checked like every scenario)' {
    BeforeAll {
        $serial = $Runs['SerialAll']
        $all = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'RunnerScenarios.psd1')).Scenarios   # discovery's $scenarios is not visible here
        # (StartOrder runs AllPass again, seeded: AllPass's own scenario covers those suites here.)
        $expected = @($all | Where-Object { -not $_.ContainsKey('Generate') -and -not $_.ContainsKey('Signal') -and -not $_.ContainsKey('Serial') -and -not $_.ContainsKey('SerialApart') -and -not $_.ContainsKey('SeedSeconds') -and -not ($_.ContainsKey('CI') -and $_.CI -and -not $_.ContainsKey('AnyCI')) } |
                ForEach-Object { $_.Suites })
    }

    It 'fails, with its own final line last' {
        $serial.ExitCode | Should -Be 1
        $serial.Lines[-1] | Should -Match '^Pester: \d+ passed, [1-9]\d* failed, \d+ skipped$'
        @($serial.Lines | Where-Object { $_ -match '^\s*ALL TESTS PASSED' }) | Should -HaveCount 0
    }

    It 'gives every fixture the same verdict and counts as the -Parallel 2 runs' {
        @($serial.Summary.suites) | Should -HaveCount $expected.Count
        foreach ($e in $expected) {
            $found = Find-SuiteVerdict -Suites $serial.Summary.suites -Expected $e
            $found | Should -HaveCount 1 -Because "$($e.File) must have one verdict"
            Assert-SuiteVerdict -Suite $found[0] -Expected $e
        }
    }

    It 'writes junit.xml that validates and agrees with summary.json' {
        $doc = Read-JUnitReport -Path (Join-Path $serial.OutputDir 'junit.xml')
        [int] $doc.DocumentElement.failures | Should -Be $serial.Summary.failed
        @($doc.SelectNodes('//testcase[failure]')).Count | Should -Be $serial.Summary.failed
        @($doc.SelectNodes('//testcase[skipped]')).Count | Should -Be $serial.Summary.skipped
    }
}

Describe 'Invoke-TestRun output for fixture <Name>' -ForEach @($scenarios | Where-Object { $_.ContainsKey('OutputLike') }) {
    It 'shows <OutputLike>' {
        ($Runs[$Name].Lines -join "`n") | Should -BeLike $OutputLike
    }
}

Describe 'Invoke-TestRun nested under itself' {
    It 'removed the temp roots of its inner runs' -Skip:(-not $env:MYHV_TEST_ROOT) {
        # Inner runners nest their suites' MYHV_TEST_ROOT in ours and must delete each one.
        @(Get-ChildItem -LiteralPath $env:MYHV_TEST_ROOT -Directory -Filter 'mhT-*') | Should -HaveCount 0
    }
}

Describe 'The plan (Get-SuitePlan)' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RunnerPlan.ps1')
        function New-PlanFile([string] $Text) {
            $file = Join-Path $WorkRoot ("plan-" + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.Tests.ps1')
            Set-Content -LiteralPath $file -Value $Text
            $file
        }
    }

    It 'counts It calls in Describe, Context and loops, one per call' {
        $file = New-PlanFile @'
Describe 'a' {
    It 'one' { }
    Context 'b' { It 'two' { } ; It 'three <_>' -ForEach 1, 2, 3 { } }
    foreach ($x in 1..5) { It "loop $x" { } }
    1..2 | ForEach-Object { It "pipe $_" { } }
}
'@
        (Get-SuitePlan -SuitePath $file).MinTests | Should -Be 5
    }

    It 'does not count It calls that may never run' {
        $file = New-PlanFile @'
function Add-Tests { It 'in a function' { } }
$later = { It 'in a free script block' { } }
Describe 'a' {
    if ($false) { It 'in an if' { } }
    switch (1) { 2 { It 'in a switch' { } } }
    It 'counted' { }
}
'@
        (Get-SuitePlan -SuitePath $file).MinTests | Should -Be 1
    }

    It 'reports parse errors' {
        $file = New-PlanFile "Describe 'a' { It 'b' { `$x = ( } }"
        (Get-SuitePlan -SuitePath $file).ParseErrors | Should -Not -BeNullOrEmpty
    }

    It 'finds suites recursively, sorted, and only *.Tests.ps1' {
        $found = @((Find-TestSuite -Path (Join-Path $FixtureRoot 'AllPass')).Files)
        # Ordinal order of full paths: AllPass/One, AllPass/sub/Two, AllPass/sub/deeper/Three ('T' < 'd').
        $found | ForEach-Object { Split-Path -Leaf $_ } | Should -Be @('One.Tests.ps1', 'Two.Tests.ps1', 'Three.Tests.ps1')
        @((Find-TestSuite -Path (Join-Path $FixtureRoot 'NoSuites')).Files) | Should -HaveCount 0
    }

    It 'counts It calls in functions the file defines when a block calls them' {
        $file = New-PlanFile @'
function Add-Pair { It 'a' { }; It 'b' { } }
function Add-Nested { Add-Pair; It 'c' { } }
function Add-Self { Add-Self; It 'recursive' { } }
Describe 'x' { Add-Nested; Add-Self }
'@
        (Get-SuitePlan -SuitePath $file).MinTests | Should -Be 4
    }

    It 'does not count It calls after a conditional return, and that return is no crash' {
        $file = New-PlanFile @'
Describe 'x' {
    It 'before' { }
    if ($PSVersionTable.PSVersion.Major -gt 5) { It 'in the if' { }; return }
    It 'after 1' { }
    It 'after 2' { }
}
Describe 'y' { It 'later block' { } }
'@
        $plan = Get-SuitePlan -SuitePath $file
        $plan.MinTests | Should -Be 2
        $plan.Truncations | Should -BeNullOrEmpty
    }

    It 'reports an unconditional exit, return or break with code after it' {
        foreach ($stmt in 'exit', 'return', 'break') {
            $plan = Get-SuitePlan -SuitePath (New-PlanFile "Describe 'a' { It 'b' { } }`n$stmt`nDescribe 'c' { It 'd' { } }")
            $plan.Truncations | Should -HaveCount 1 -Because $stmt
            $plan.MinTests | Should -Be 1
        }
        (Get-SuitePlan -SuitePath (New-PlanFile "Describe 'a' { It 'b' { }; return; It 'c' { } }")).Truncations | Should -HaveCount 1
        (Get-SuitePlan -SuitePath (New-PlanFile "Describe 'a' { It 'b' { } }`nreturn")).Truncations | Should -BeNullOrEmpty
    }

    It 'reads the host-exclusive declaration only as a whole-line comment at column 1' {
        (Get-SuitePlan -SuitePath (New-PlanFile "# Runner: host-exclusive`nDescribe 'a' { It 'b' { } }")).Exclusive | Should -BeTrue
        (Get-SuitePlan -SuitePath (New-PlanFile "  # Runner: host-exclusive`nDescribe 'a' { It 'b' { } } # Runner: host-exclusive")).Exclusive | Should -BeFalse
    }

    It 'escapes control characters in names' {
        ConvertTo-VisibleText -Text "a`nb`rc`td`e[0m`u{2028}" | Should -BeExactly 'a\nb\rc\td\e[0m\u2028'
    }
}

Describe 'The start order (Get-SuiteStartOrder, Read-SuiteSeconds)' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RunnerOrder.ps1')
        $plans = @(
            [pscustomobject]@{ Path = '/s/a'; Exclusive = $false }, [pscustomobject]@{ Path = '/s/b'; Exclusive = $true }
            [pscustomobject]@{ Path = '/s/c'; Exclusive = $false }, [pscustomobject]@{ Path = '/s/d'; Exclusive = $false }
            [pscustomobject]@{ Path = '/s/e'; Exclusive = $false }, [pscustomobject]@{ Path = '/s/f'; Exclusive = $true })
        function New-Summary([string] $Json) {
            $dir = Join-Path $WorkRoot ("order-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
            $null = New-Item -ItemType Directory -Path $dir
            Set-Content -LiteralPath (Join-Path $dir 'summary.json') -Value $Json
            $dir
        }
    }

    It 'starts host-exclusive suites first, then untimed ones, then the longest first; plan order where nothing differs' {
        $order = Get-SuiteStartOrder -Plans $plans -Seconds @{ '/s/a' = 5.0; '/s/c' = 40.0; '/s/e' = 5.0; '/s/f' = 1.0 } -Parallel 2
        @($order | ForEach-Object { $plans[$_].Path }) | Should -Be @('/s/b', '/s/f', '/s/d', '/s/c', '/s/a', '/s/e')
        Get-SuiteStartOrder -Plans $plans -Seconds @{} -Parallel 2 | Should -Be @(1, 5, 0, 2, 3, 4)
    }

    It 'keeps plan order with -Parallel 1, where the order cannot shorten the run' {
        Get-SuiteStartOrder -Plans $plans -Seconds @{ '/s/e' = 99.0 } -Parallel 1 | Should -Be @(0, 1, 2, 3, 4, 5)
    }

    It 'reads the last run''s seconds by path, and takes a hand-edited entry as no estimate' {
        $dir = New-Summary @'
{ "suites": [ { "path": "/s/a", "seconds": 12.5 }, { "path": "/s/b", "seconds": 3 }, { "path": "/s/c", "seconds": "9" },
  { "path": "/s/d", "seconds": -1 }, { "path": "/s/e", "seconds": null }, { "path": 7, "seconds": 1 }, { "seconds": 2 }, { "path": "/s/f" } ] }
'@
        $seconds = Read-SuiteSeconds -Dir $dir
        $seconds.Keys | Sort-Object | Should -Be @('/s/a', '/s/b')
        $seconds['/s/a'] | Should -Be 12.5
        $seconds['/s/b'] | Should -Be 3
    }

    It 'gives no estimate, and no error, for a missing, broken or linked summary' {
        (Read-SuiteSeconds -Dir (Join-Path $WorkRoot 'no-such-dir')).Count | Should -Be 0
        (Read-SuiteSeconds -Dir (New-Summary '{ "suites": [ { "path": "/s/a", ')).Count | Should -Be 0
        (Read-SuiteSeconds -Dir (New-Summary '[1, 2]')).Count | Should -Be 0
        $linked = New-Summary '{}'
        $real = Join-Path (New-Summary '{ "suites": [ { "path": "/s/a", "seconds": 1 } ] }') 'summary.json'
        Remove-Item -LiteralPath (Join-Path $linked 'summary.json')
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $linked 'summary.json') -Target $real
        (Read-SuiteSeconds -Dir $linked).Count | Should -Be 0
    }
}

Describe 'The project''s own suites' {
    It 'declare host-exclusive where they create network namespaces, bridges or TAP devices' {
        . (Join-Path $PSScriptRoot 'RunnerPlan.ps1')
        $suites = @((Find-TestSuite -Path (Join-Path $RepoRoot 'tests/Pester')).Files)
        $suites | Should -Not -BeNullOrEmpty
        foreach ($suite in @($suites | Where-Object { $_ -ne $PSCommandPath })) {   # this file names the patterns
            $text = Get-Content -LiteralPath $suite -Raw
            if ($text -match 'ip netns add|New-MyHvNetns|tuntap|-Bridge ') {
                (Get-SuitePlan -SuitePath $suite).Exclusive | Should -BeTrue -Because "$suite uses host-global network resources"
            }
        }
    }
}
