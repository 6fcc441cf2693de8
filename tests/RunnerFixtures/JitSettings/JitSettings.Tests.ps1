# The runner's JIT settings (tests/Pester/Runner/RunnerJitSettings.ps1): the runner restarted
# itself in place with tier-up off, this suite's pwsh started with it, and nothing the suite sees
# or starts inherits it. The runner's pid goes to $env:MYHV_FIXTURE_OUT/runner.pid, so the test
# can compare it with the process it started.
Describe 'the runner''s JIT settings' {
    BeforeAll {
        function Get-Environ([int] $ProcessId) { @([System.IO.File]::ReadAllText("/proc/$ProcessId/environ").Split([char] 0) | Where-Object { $_ }) }
        # This pwsh's parent is the runner: setsid execs the child in place.
        $stat = [System.IO.File]::ReadAllText("/proc/$PID/stat")
        $runnerPid = [int] $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[1]
        if ($env:MYHV_FIXTURE_OUT) { Set-Content -LiteralPath (Join-Path $env:MYHV_FIXTURE_OUT 'runner.pid') -Value $runnerPid }
    }
    It 'the runner runs with call counting off, named as its own setting' {
        [System.IO.File]::ReadAllText("/proc/$runnerPid/cmdline") | Should -BeLike '*Invoke-TestRun.ps1*'
        Get-Environ $runnerPid | Should -Contain 'DOTNET_TC_CallCounting=0'
        Get-Environ $runnerPid | Should -Contain 'MYHV_RUNNER_JIT_SETTINGS=DOTNET_TC_CallCounting'
    }
    It 'this suite''s pwsh was started with it' {
        Get-Environ $PID | Should -Contain 'DOTNET_TC_CallCounting=0'
    }
    It 'the suite and what it starts see neither the setting nor its list' {
        Get-ChildItem Env: | Where-Object Name -In 'DOTNET_TC_CallCounting', 'MYHV_RUNNER_JIT_SETTINGS' | Should -BeNullOrEmpty
        @(& /usr/bin/env) | Where-Object { $_ -like 'DOTNET_TC_CallCounting=*' -or $_ -like 'MYHV_RUNNER_JIT_SETTINGS=*' } | Should -BeNullOrEmpty
    }
}
