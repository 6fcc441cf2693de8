# Expected outcomes of running Invoke-TestRun.ps1 over each folder of tests/RunnerFixtures (or a
# folder generated at test time, for names git or this file cannot hold: Generate names the
# function in RunnerTestSupport.ps1). Data for Invoke-TestRun.Tests.ps1.
# Suites are keyed by file name, never by position: the assertions hold in any run order.
# Runs use -Parallel 2 unless a scenario says otherwise; SerialAll runs every committed fixture
# (but those marked SerialApart, run serially on their own) at once with -Parallel 1, and each of
# its verdicts must equal the one expected here.
@{
    Scenarios = @(
        @{ Name = 'ExitAtTop'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ExitAtTop.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*does not reach the end of the file*exit 3*' }) }
        @{ Name = 'BeforeAllThrows'; ExitCode = 1; Final = 'Pester: 0 passed, 2 failed, 0 skipped'
            Suites = @(@{ File = 'BeforeAllThrows.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 2; Skipped = 0; Reason = '*block(s) failed*' }) }
        @{ Name = 'AfterAllThrows'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'AfterAllThrows.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 1; Skipped = 0; Reason = '*block(s) failed*teardown that throws*' }) }
        @{ Name = 'ParseError'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ParseError.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*container(s) failed*ParseError.Tests.ps1*' }) }
        # Seeded with a passing goodbye, results file and summary from a "previous run": never read.
        @{ Name = 'EnvironmentExit'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; SeedStale = $true
            Suites = @(@{ File = 'EnvironmentExit.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*without saying goodbye*' }) }
        @{ Name = 'ExitBetweenDescribes'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ExitBetweenDescribes.Tests.ps1'; Status = 'crashed'; Passed = 1; Failed = 1; Skipped = 0; Reason = '*does not reach the end of the file*' }) }
        @{ Name = 'SigKill'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'SigKill.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 137; Reason = '*without saying goodbye*' }) }
        # Hang runs serially in HangSerial, not inside SerialAll: there its timeout would hold up every fixture after it.
        @{ Name = 'Hang'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; TimeoutSeconds = 20; PidFile = 'hang.pids'; SerialApart = $true
            Suites = @(@{ File = 'Hang.Tests.ps1'; Status = 'timedout'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*timeout*' }) }
        @{ Name = 'HangSerial'; Fixture = 'Hang'; Parallel = 1; SerialApart = $true; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; TimeoutSeconds = 20; PidFile = 'hang.pids'
            Suites = @(@{ File = 'Hang.Tests.ps1'; Status = 'timedout'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*timeout*' }) }
        @{ Name = 'NoTests'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'NoTests.Tests.ps1'; Status = 'empty'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*no test*' }) }
        @{ Name = 'SkippedOnly'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 2 skipped'
            Suites = @(@{ File = 'SkippedOnly.Tests.ps1'; Status = 'empty'; Passed = 0; Failed = 1; Skipped = 2; SuiteExitCode = 0; Reason = '*no test passed*' }) }
        @{ Name = 'Inconclusive'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 2 skipped'
            Suites = @(@{ File = 'Inconclusive.Tests.ps1'; Status = 'empty'; Passed = 0; Failed = 1; Skipped = 2; SuiteExitCode = 0; Reason = '*1 inconclusive*' }) }
        @{ Name = 'HelperExit'; ExitCode = 1; Final = 'Pester: 2 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'HelperExit.Tests.ps1'; Status = 'crashed'; Passed = 2; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*did not reach the end*exit (line 10)*' }) }
        @{ Name = 'ConditionalReturn'; ExitCode = 0; Final = 'Pester: 1 passed, 0 failed, 0 skipped'
            Suites = @(@{ File = 'PasswordProtection.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }) }
        @{ Name = 'Fail256'; ExitCode = 1; Final = 'Pester: 0 passed, 256 failed, 0 skipped'
            Suites = @(@{ File = 'Fail256.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 256; Skipped = 0; SuiteExitCode = 1; Reason = '*256 test(s) failed*' }) }
        @{ Name = 'ControlChars'; ExitCode = 1; Final = 'Pester: 1 passed, 13 failed, 0 skipped'
            Suites = @(@{ File = 'ControlChars.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 13; Skipped = 0; SuiteExitCode = 1; Reason = '*13 test(s) failed*' })
            # The digest near the end names each failed test with its message, escaped, at most 10 a suite.
            OutputLike = '*Failures:*ControlChars* (failed): 13 test(s) failed*    `[-`] native output in failures > fails 1: \e`[31mred 1\e`[0m bell\x07 nul\x00 vt\x0B ff\x0C backspace\x08 end*... and 3 more (junit.xml has them all)*Pester: 1 passed, 13 failed, 0 skipped' }
        @{ Name = 'PassAndCrash'; ExitCode = 1; Final = 'Pester: 2 passed, 1 failed, 0 skipped'
            Suites = @(
                @{ File = 'Passing.Tests.ps1'; Status = 'passed'; Passed = 2; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'Crashing.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 42; Reason = '*crashing on purpose*' }) }
        @{ Name = 'NoSuites'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; Suites = @() }
        @{ Name = 'AllPass'; ExitCode = 0; Final = 'Pester: 8 passed, 0 failed, 3 skipped'
            Suites = @(
                @{ File = 'One.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 1; SuiteExitCode = 0 }
                @{ File = 'Two.Tests.ps1'; Status = 'passed'; Passed = 2; Failed = 0; Skipped = 1; SuiteExitCode = 0 }
                @{ File = 'Three.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 1; SuiteExitCode = 0 }) }
        @{ Name = 'Leak'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'; PidFile = 'leak.pids'
            Suites = @(@{ File = 'Leak.Tests.ps1'; Status = 'leaked'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*still running*sleep 600*tail -f*' }) }
        @{ Name = 'SetsidDaemon'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'; PidFile = 'daemon.pids'
            Suites = @(@{ File = 'SetsidDaemon.Tests.ps1'; Status = 'leaked'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*still running*sleep 60*sleep 60*' }) }
        @{ Name = 'TerminalWriter'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'TerminalWriter.Tests.ps1'; Status = 'leaked'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*still running*' }) }
        @{ Name = 'ForgedGoodbye'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ForgedGoodbye.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*not signed with this suite*' }) }
        # Whether the saboteur swaps the goodbye for a FIFO before the runner ends it is a race:
        # either way the run ends, fails, and the suite does not pass.
        @{ Name = 'FifoGoodbye'; ExitCode = 1; FinalLike = 'Pester: [01] passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'FifoGoodbye.Tests.ps1'; StatusIn = @('crashed', 'leaked'); Failed = 1; Skipped = 0; SuiteExitCode = 0 }) }
        # The last run in this -OutputDir (seeded) timed Three longest and One shortest; Two it did not time: Two, Three, One start in that order.
        @{ Name = 'StartOrder'; Fixture = 'AllPass'; SeedSeconds = @{ 'One.Tests.ps1' = 1.5; 'Three.Tests.ps1' = 30 }; ExitCode = 0; Final = 'Pester: 8 passed, 0 failed, 3 skipped'
            OutputLike = '*Start order: host-exclusive suites first, then the longest first by the last run''s times in this output folder (2 of 3 timed; the others first)*--> started sub/Two*--> started sub/deeper/Three*--> started One*'
            Suites = @(
                @{ File = 'One.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 1; SuiteExitCode = 0 }
                @{ File = 'Two.Tests.ps1'; Status = 'passed'; Passed = 2; Failed = 0; Skipped = 1; SuiteExitCode = 0 }
                @{ File = 'Three.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 1; SuiteExitCode = 0 }) }
        # The runner restarts itself in place (same pid) with tier-up off; its suites' processes do not inherit it.
        @{ Name = 'JitSettings'; ExitCode = 0; Final = 'Pester: 3 passed, 0 failed, 0 skipped'
            Suites = @(@{ File = 'JitSettings.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 0; SuiteExitCode = 0 }) }
        @{ Name = 'TempFiles'; ExitCode = 0; Final = 'Pester: 1 passed, 0 failed, 0 skipped'
            Suites = @(@{ File = 'TempFiles.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }) }
        @{ Name = 'NoResults'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'NoResults.Tests.ps1'; Status = 'noresults'; Passed = 1; Failed = 1; Skipped = 0 }) }
        @{ Name = 'Prerequisite'; Fixture = 'Prerequisite'; ExitCode = 0; Final = 'Pester: 1 passed, 0 failed, 1 skipped'; CI = ''
            Suites = @(@{ File = 'Prerequisite.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 1; SuiteExitCode = 0 }) }
        @{ Name = 'PrerequisiteUnderCI'; Fixture = 'Prerequisite'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'; CI = 'true'
            OutputLike = '*Prerequisite missing: unobtainium-9000*'
            Suites = @(@{ File = 'Prerequisite.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 1 }) }
        # Under CI=true as in CI; the fixture's skips do not depend on it, so SerialAll (no CI) expects the same (AnyCI).
        @{ Name = 'NotInstallable'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 3 skipped'; CI = 'true'; AnyCI = $true
            OutputLike = '*Skipped, not installable on this platform:*  OnlyNotInstallable: cloud-hypervisor*  WithPass: cloud-hypervisor, firecracker*'
            Suites = @(
                @{ File = 'WithPass.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 2; SuiteExitCode = 0; NotInstallable = @('cloud-hypervisor', 'firecracker') }
                @{ File = 'OnlyNotInstallable.Tests.ps1'; Status = 'empty'; Passed = 0; Failed = 1; Skipped = 1; SuiteExitCode = 0; NotInstallable = @('cloud-hypervisor'); Reason = '*no test passed*' }) }
        @{ Name = 'Names'; Generate = 'New-NamesFixture'; ExitCode = 0; Final = 'Pester: 11 passed, 0 failed, 1 skipped'
            Suites = @(
                @{ File = '[v2] api.Tests.ps1'; Status = 'passed'; Passed = 2; Failed = 0; Skipped = 1; SuiteExitCode = 0 }
                @{ File = 'v api.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = '2 api.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'a*b?.Tests.ps1'; Status = 'passed'; Passed = 3; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'aXbY.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'Ünïcödé Straße.Tests.ps1'; Status = 'passed'; Passed = 2; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'lower.tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }) }
        @{ Name = 'Discovery'; Generate = 'New-DiscoveryFixture'; ExitCode = 0; Final = 'Pester: 4 passed, 0 failed, 0 skipped'
            OutputLike = '*note: symlink loop:*loop/back*'
            Suites = @(
                @{ File = 'Hidden.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'Real.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'Outside.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }
                @{ File = 'UPPER.TESTS.PS1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 0; SuiteExitCode = 0 }) }
        @{ Name = 'Newline'; Generate = 'New-NewlineFixture'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            OutputLike = '*evil\nALL TESTS PASSED\nPester: 9 passed, 0 failed, 0 skipped\e`[2K*'
            Suites = @(@{ FileLike = 'evil*'; Status = 'failed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 1 }) }
        # Cancel: SIGTERM / SIGINT while a suite runs; the TERM run also meets a second run on the same -OutputDir.
        @{ Name = 'SigTerm'; Fixture = 'Hang'; Signal = 'TERM'; LockProbe = $true; TimeoutSeconds = 600; PidFile = 'hang.pids'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'Hang.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; Reason = 'runner interrupted (SIGTERM)*' }) }
        @{ Name = 'SigInt'; Fixture = 'Hang'; Signal = 'INT'; TimeoutSeconds = 600; PidFile = 'hang.pids'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'Hang.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; Reason = 'runner interrupted (SIGINT)*' }) }
        # No fixture in it hangs (Hang runs apart), so a generous timeout costs nothing and a loaded host cannot time a fixture out.
        @{ Name = 'SerialAll'; Generate = 'New-SerialFixture'; Parallel = 1; TimeoutSeconds = 600; ExitCode = 1; Serial = $true }
    )
}
