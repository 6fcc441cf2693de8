# Expected outcomes of running Invoke-TestRun.ps1 over each folder of tests/RunnerFixtures.
# Data for Invoke-TestRun.Tests.ps1 (read in discovery and in run, so it lives in one place).
# Suites are keyed by file name, never by position: the assertions hold in any run order.
@{
    Scenarios = @(
        @{ Name = 'ExitAtTop'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ExitAtTop.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*fewer than the 2*' }) }
        @{ Name = 'BeforeAllThrows'; ExitCode = 1; Final = 'Pester: 0 passed, 2 failed, 0 skipped'
            Suites = @(@{ File = 'BeforeAllThrows.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 2; Skipped = 0; Reason = '*block(s) failed*' }) }
        @{ Name = 'AfterAllThrows'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'AfterAllThrows.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 1; Skipped = 0; Reason = '*block(s) failed*teardown that throws*' }) }
        @{ Name = 'ParseError'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ParseError.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*container(s) failed*' }) }
        # Seeded with a passing goodbye, results file and summary from a "previous run": never read.
        @{ Name = 'EnvironmentExit'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; SeedStale = $true
            Suites = @(@{ File = 'EnvironmentExit.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*without saying goodbye*' }) }
        @{ Name = 'ExitBetweenDescribes'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'ExitBetweenDescribes.Tests.ps1'; Status = 'crashed'; Passed = 1; Failed = 1; Skipped = 0; Reason = '*fewer than the 2*' }) }
        @{ Name = 'SigKill'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'SigKill.Tests.ps1'; Status = 'crashed'; Passed = 0; Failed = 1; Skipped = 0; SuiteExitCode = 137; Reason = '*without saying goodbye*' }) }
        @{ Name = 'Hang'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'; TimeoutSeconds = 20; PidFile = 'hang.pids'
            Suites = @(@{ File = 'Hang.Tests.ps1'; Status = 'timedout'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*timeout*' }) }
        @{ Name = 'NoTests'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'NoTests.Tests.ps1'; Status = 'empty'; Passed = 0; Failed = 1; Skipped = 0; Reason = '*no test*' }) }
        @{ Name = 'Fail256'; ExitCode = 1; Final = 'Pester: 0 passed, 256 failed, 0 skipped'
            Suites = @(@{ File = 'Fail256.Tests.ps1'; Status = 'failed'; Passed = 0; Failed = 256; Skipped = 0; SuiteExitCode = 1; Reason = '*256 test(s) failed*' }) }
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
            Suites = @(@{ File = 'Leak.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 0; Reason = '*left things behind*sleep 600*tail -f*' }) }
        @{ Name = 'NoResults'; ExitCode = 1; Final = 'Pester: 0 passed, 1 failed, 0 skipped'
            Suites = @(@{ File = 'NoResults.Tests.ps1'; Status = 'noresults'; Passed = 0; Failed = 1; Skipped = 0 }) }
        @{ Name = 'Prerequisite'; Fixture = 'Prerequisite'; ExitCode = 0; Final = 'Pester: 1 passed, 0 failed, 1 skipped'; CI = ''
            Suites = @(@{ File = 'Prerequisite.Tests.ps1'; Status = 'passed'; Passed = 1; Failed = 0; Skipped = 1; SuiteExitCode = 0 }) }
        @{ Name = 'PrerequisiteUnderCI'; Fixture = 'Prerequisite'; ExitCode = 1; Final = 'Pester: 1 passed, 1 failed, 0 skipped'; CI = 'true'
            OutputLike = '*Prerequisite missing: unobtainium-9000*'
            Suites = @(@{ File = 'Prerequisite.Tests.ps1'; Status = 'failed'; Passed = 1; Failed = 1; Skipped = 0; SuiteExitCode = 1 }) }
    )
}
