# The runner's own tests: Invoke-TestRun.ps1 is run as a child pwsh over each fixture folder in
# tests/RunnerFixtures (kept outside tests/Pester so default discovery never finds them), and its
# exit code, summary.json, per-suite status and counts and its final line are checked.
# This suite is itself run by the runner, so there are two runners nested: the inner ones nest
# their MYHV_TEST_ROOTs inside ours and print their suites' lines with their own prefixes.

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
}

AfterAll {
    if ($script:WorkRoot -and (Test-Path -LiteralPath $script:WorkRoot)) { Remove-Item -LiteralPath $script:WorkRoot -Recurse -Force }
}

Describe 'Invoke-TestRun over fixture <Name>' -ForEach $scenarios {
    BeforeAll {
        $run = $Runs[$Name]
        $suiteExpectations = @($Suites)
    }

    It 'exits with <ExitCode> (only ever 0 or 1)' {
        $run.ExitCode | Should -Be $ExitCode
    }

    It 'ends with exactly "<Final>"' {
        $run.Lines[-1] | Should -BeExactly $Final
    }

    It 'prints ALL TESTS PASSED, right before the last line, only when it exits 0' {
        $claims = @($run.Lines | Where-Object { $_ -match 'ALL TESTS PASSED' })
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
        "Pester: $($summary.passed) passed, $($summary.failed) failed, $($summary.skipped) skipped" | Should -BeExactly $Final
        foreach ($suite in @($summary.suites)) {
            @($suite.PSObject.Properties.Name | Sort-Object) | Should -Be @('exitCode', 'failed', 'passed', 'path', 'reason', 'skipped', 'status')
            $suite.status | Should -BeIn @('passed', 'failed', 'crashed', 'timedout', 'noresults', 'empty')
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
            $found = @($run.Summary.suites | Where-Object { (Split-Path -Leaf $_.path) -eq $expected.File })
            $found | Should -HaveCount 1 -Because "$($expected.File) must have one verdict"
            $suite = $found[0]
            $suite.status | Should -Be $expected.Status -Because "$($expected.File): $($suite.reason)"
            $suite.passed | Should -Be $expected.Passed -Because "$($expected.File) passed"
            $suite.failed | Should -Be $expected.Failed -Because "$($expected.File) failed"
            $suite.skipped | Should -Be $expected.Skipped -Because "$($expected.File) skipped"
            if ($expected.ContainsKey('SuiteExitCode')) { $suite.exitCode | Should -Be $expected.SuiteExitCode -Because "$($expected.File) exit code" }
            if ($expected.ContainsKey('Reason')) { $suite.reason | Should -BeLike $expected.Reason }
            if ($expected.Status -eq 'passed') { $suite.reason | Should -BeNullOrEmpty } else { $suite.reason | Should -Not -BeNullOrEmpty }
        }
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
        $found = @(Find-TestSuite -Path (Join-Path $FixtureRoot 'AllPass'))
        # Ordinal order of full paths: AllPass/One, AllPass/sub/Two, AllPass/sub/deeper/Three ('T' < 'd').
        $found | ForEach-Object { Split-Path -Leaf $_ } | Should -Be @('One.Tests.ps1', 'Two.Tests.ps1', 'Three.Tests.ps1')
        @(Find-TestSuite -Path (Join-Path $FixtureRoot 'NoSuites')) | Should -HaveCount 0
    }
}
