# Tests of tests/Pester/Support/MyHvTestKit.psm1, the kit every suite uses: test homes, the in-suite
# leak census, prerequisites that skip on a laptop but fail under CI=true (unless not installable
# here), the one child-pwsh launcher, process probes and output capture.
# (The skip half of Skip-UnlessPrerequisite is proven end to end by the Prerequisite fixture.)

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'MyHvTestKit.psm1') -Force
    $script:SavedHome = $env:MYHV_HOME
    $script:SavedCI = $env:CI
    $script:Homes = [System.Collections.Generic.List[string]]::new()   # removed in AfterAll

    function Start-QuietProcess {
        # A long-running process with the given arguments, its output kept off our console.
        param([string] $FilePath, [string[]] $ArgumentList)
        $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
        foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        [System.Diagnostics.Process]::Start($psi)
    }
}

AfterAll {
    foreach ($h in $script:Homes) { Remove-Item -LiteralPath $h -Recurse -Force -ErrorAction SilentlyContinue }
    $env:MYHV_HOME = $script:SavedHome
    $env:CI = $script:SavedCI
}

Describe 'Get-MyHvRepoRoot' {
    It 'is the repository root' {
        $root = Get-MyHvRepoRoot
        Join-Path $root 'build.ps1' | Should -Exist
        Join-Path $root 'tests/Pester/Support/MyHvTestKit.psm1' | Should -Exist
    }
}

Describe 'New-MyHvTestHome' {
    It 'makes a fresh private directory under MYHV_TEST_ROOT and points MYHV_HOME at it' {
        $first = New-MyHvTestHome
        $second = New-MyHvTestHome
        $script:Homes.AddRange([string[]] @($first, $second))
        $first | Should -Not -Be $second
        $second | Should -Exist
        $env:MYHV_HOME | Should -Be $second
        (Get-Item -LiteralPath $second).UnixFileMode | Should -Be ([System.IO.UnixFileMode] 'UserRead, UserWrite, UserExecute')
        if ($env:MYHV_TEST_ROOT) { $second | Should -BeLike "$($env:MYHV_TEST_ROOT)/*" }
        # Room for deep socket paths below the 108-byte limit.
        $second.Length | Should -BeLessThan 48
    }
}

Describe 'Get-MyHvLeftover / Assert-MyHvNoLeftovers' {
    BeforeEach {
        $testHome = New-MyHvTestHome
        $script:Homes.Add($testHome)
    }

    It 'finds nothing in a fresh home' {
        Get-MyHvLeftover -Home $testHome | Should -BeNullOrEmpty
        { Assert-MyHvNoLeftovers -Home $testHome } | Should -Not -Throw
    }

    It 'names a process whose command line names the home, until it is gone' {
        $log = Join-Path $testHome 'x.log'
        Set-Content -LiteralPath $log -Value 'x'
        $tail = Start-QuietProcess -FilePath 'tail' -ArgumentList '-f', $log
        try {
            @(Get-MyHvLeftover -Home $testHome) -join "`n" | Should -BeLike "*process $($tail.Id) *tail -f $log*"
            { Assert-MyHvNoLeftovers -Home $testHome } | Should -Throw "*process $($tail.Id)*"
        } finally {
            $tail.Kill(); $tail.WaitForExit()
        }
        Get-MyHvLeftover -Home $testHome | Should -BeNullOrEmpty
    }

    It 'names a bound unix socket under the home, and its file' {
        $path = Join-Path $testHome 's.sock'
        $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
        try {
            $socket.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($path))
            $found = @(Get-MyHvLeftover -Home $testHome) -join "`n"
            $found | Should -BeLike "*socket file $path*"
            $found | Should -BeLike "*bound unix socket $path*"
        } finally { $socket.Dispose() }
        Remove-Item -LiteralPath $path -ErrorAction SilentlyContinue   # .NET may already have unlinked it
        Get-MyHvLeftover -Home $testHome | Should -BeNullOrEmpty
    }

    It 'does not take a sibling with a longer name for the home' {
        $sibling = "$testHome-other.log"
        Set-Content -LiteralPath $sibling -Value 'x'
        $tail = Start-QuietProcess -FilePath 'tail' -ArgumentList '-f', $sibling
        try { Get-MyHvLeftover -Home $testHome | Should -BeNullOrEmpty }
        finally { $tail.Kill(); $tail.WaitForExit(); Remove-Item -LiteralPath $sibling }
    }
}

Describe 'Skip-UnlessPrerequisite' {
    AfterEach { $env:CI = $script:SavedCI }

    It 'lets the test go on when the prerequisite is there, with or without CI' {
        $env:CI = 'true'
        Skip-UnlessPrerequisite -Name 'here' -Condition $true | Should -BeNullOrEmpty
        $env:CI = $null
        Skip-UnlessPrerequisite -Name 'here' -Condition { 1 } | Should -BeNullOrEmpty
    }

    It 'fails with PrerequisiteMissing naming the prerequisite under CI=true' {
        $env:CI = 'true'
        { Skip-UnlessPrerequisite -Name 'qemu-system-imaginary' -Condition { $false } } |
            Should -Throw -ErrorId 'PrerequisiteMissing*' -ExpectedMessage '*qemu-system-imaginary*'
    }

    It '-NotInstallable skips even under CI=true, naming the prerequisite as not installable here (a Pester run in a child)' {
        $run = Invoke-MyHvChild -Environment @{ CI = 'true'; MH_PESTER = (Get-Module -Name Pester).Path } -ScriptBlock {
            Import-Module $env:MH_PESTER
            $config = New-PesterConfiguration
            $config.Run.Container = New-PesterContainer -Data @{ Kit = (Get-Module -Name MyHvTestKit).Path } -ScriptBlock {
                param($Kit)
                BeforeAll { Import-Module $Kit -Force }
                Describe 'd' {
                    It 'not installable' { Skip-UnlessPrerequisite -NotInstallable -Name 'cloud-hypervisor' -Condition $false; throw 'ran' }
                    It 'missing' { Skip-UnlessPrerequisite -Name 'unobtainium' -Condition { $false }; throw 'ran' }
                    It 'present' { Skip-UnlessPrerequisite -NotInstallable -Name 'here' -Condition $true; 1 | Should -Be 1 }
                }
            }
            $config.Run.PassThru = $true
            $config.Output.Verbosity = 'None'
            $result = Invoke-Pester -Configuration $config
            @($result.Tests | ForEach-Object { "$($_.Name)|$($_.Result)|$($_.ErrorRecord)" })
        }
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        $run.Result | Should -Be @(
            'not installable|Skipped|is skipped, because not installable on this platform: cloud-hypervisor'
            'missing|Failed|Prerequisite missing: unobtainium (CI=true, so a missing prerequisite fails the test instead of skipping it)'
            'present|Passed|'
        )
    }
}

Describe 'Import-MyHvTestModule' {
    It 'imports the built module from out/ with its cmdlets' {
        $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
        Skip-UnlessPrerequisite -Name 'the built module (dotnet pwsh ./build.ps1 -Task Build)' -Condition (Test-Path -LiteralPath $manifest)
        $module = Import-MyHvTestModule
        $module.Path | Should -BeLike "$(Get-MyHvRepoRoot)/out/MyHypervisor/*"
        @(Get-Command -Module MyHypervisor) | Should -Not -BeNullOrEmpty
    }
}

Describe 'New-MyHvTestDir' {
    It 'makes a fresh private directory named Prefix-XXXXXX under MYHV_TEST_ROOT, without touching MYHV_HOME' {
        $homeBefore = $env:MYHV_HOME
        $dir = New-MyHvTestDir -Prefix 'mhZ'
        $script:Homes.Add($dir)
        $dir | Should -Exist
        Split-Path -Leaf $dir | Should -Match '^mhZ-.{6}$'
        (Get-Item -LiteralPath $dir).UnixFileMode | Should -Be ([System.IO.UnixFileMode] 'UserRead, UserWrite, UserExecute')
        if ($env:MYHV_TEST_ROOT) { $dir | Should -BeLike "$($env:MYHV_TEST_ROOT)/*" }
        $env:MYHV_HOME | Should -Be $homeBefore
    }
}

Describe 'Start-MyHvPwsh / Wait-MyHvPwsh' {
    It 'runs script text with changed environment (a $null value removes a variable) in the repository root, stdin closed' {
        $env:MYHV_T_KEEP = 'kept'
        $env:MYHV_T_GONE = 'should-go'
        try {
            $script = 'Write-Output "set=$env:MYHV_T_SET keep=$env:MYHV_T_KEEP gone=[$env:MYHV_T_GONE] cwd=$((Get-Location).Path) in=[$([Console]::In.ReadToEnd())]"; [Console]::Error.WriteLine("to-stderr"); exit 7'
            $process = Start-MyHvPwsh -EncodedCommand $script -Environment @{ MYHV_T_SET = 'ü-set'; MYHV_T_GONE = $null }
            $process | Should -BeOfType [System.Diagnostics.Process]
            $done = Wait-MyHvPwsh -Process $process -TimeoutSeconds 120
        }
        finally { Remove-Item Env:MYHV_T_KEEP, Env:MYHV_T_GONE -ErrorAction SilentlyContinue }
        $done.ExitCode | Should -Be 7
        $done.Stdout.Trim() | Should -Be "set=ü-set keep=kept gone=[] cwd=$(Get-MyHvRepoRoot) in=[]"
        $done.Stderr.Trim() | Should -Be 'to-stderr'
    }

    It 'passes -File with its arguments, in -WorkingDirectory, through a -Wrapper program' {
        $dir = New-MyHvTestDir -Prefix 'mhP'
        $script:Homes.Add($dir)
        $file = Join-Path $dir 'child.ps1'
        Set-Content -LiteralPath $file -Value 'param($A, $B) "a=$A b=$B cwd=$((Get-Location).Path) sid=$((Get-Content /proc/self/stat).Split('' '')[5]) pid=$PID"'
        $setsid = (Get-Command -Name setsid -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $process = Start-MyHvPwsh -File $file -ArgumentList '-A', 'one two', '-B', '2' -WorkingDirectory $dir -Wrapper $setsid
        $done = Wait-MyHvPwsh -Process $process -TimeoutSeconds 120
        $done.ExitCode | Should -Be 0 -Because $done.Stderr
        $done.Stdout.Trim() -match "^a=one two b=2 cwd=$([regex]::Escape($dir)) sid=(\d+) pid=(\d+)$" | Should -BeTrue -Because $done.Stdout
        $Matches[1] | Should -Be $Matches[2] -Because 'setsid made the child lead its own session'
    }

    It 'kills a child that outlives the timeout (with its children) and throws' {
        $process = Start-MyHvPwsh -Command 'Start-Sleep -Seconds 300'
        { Wait-MyHvPwsh -Process $process -TimeoutSeconds 2 } | Should -Throw '*did not finish within 2 s*'
        $process.HasExited | Should -BeTrue
    }
}

Describe 'Invoke-MyHvChild (the one launcher)' {
    It '-ScriptBlock: the built module and the kit are loaded, -Environment changes the environment, and what it returns is the Result' {
        $env:MYHV_T_GONE = 'should-go'
        try {
            $run = Invoke-MyHvChild -Environment @{ MYHV_T_SET = 'set'; MYHV_T_GONE = $null } -ScriptBlock {
                @{ Set = $env:MYHV_T_SET; Gone = "$env:MYHV_T_GONE"; Module = [bool] (Get-Command -Name Get-MyVm); Kit = [bool] (Get-Command -Name Get-MyHvVmPath); Cwd = (Get-Location).Path }
            }
        }
        finally { Remove-Item Env:MYHV_T_GONE -ErrorAction SilentlyContinue }
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        $run.Result.Set | Should -Be 'set'
        $run.Result.Gone | Should -Be ''
        $run.Result.Module | Should -BeTrue
        $run.Result.Kit | Should -BeTrue
        $run.Result.Cwd | Should -Be (Get-MyHvRepoRoot)
    }

    It '-ScriptBlock: an error ends the child without a Result; -Body: an error is recorded in $r, which comes back' {
        $failed = Invoke-MyHvChild -ScriptBlock { Get-Item -LiteralPath '/no/such/thing'; 'unreached' }
        $failed.ExitCode | Should -Not -Be 0
        $failed.Result | Should -BeNullOrEmpty
        $body = Invoke-MyHvChild -Body '$r.Before = 1; Get-MyVm -Name "no-such-vm"; $r.After = 1'
        $body.ExitCode | Should -Be 0
        $body.Result.Before | Should -Be 1
        $body.Result.PSObject.Properties.Name | Should -Not -Contain 'After'
        $body.Result.ErrorId | Should -BeLike 'VmNotFound*'
    }

    It 'a child that dies by SIGKILL has no Result and exit code 137; one past -TimeoutSeconds is killed and the call throws' {
        $killed = Invoke-MyHvChild -ScriptBlock { & /bin/kill -KILL $PID; Start-Sleep -Seconds 30; 'unreached' }
        $killed.ExitCode | Should -Be 137
        $killed.Result | Should -BeNullOrEmpty
        $child = Start-MyHvChild -ScriptBlock { Start-Sleep -Seconds 300 }
        $childPid = $child.Id
        { Receive-MyHvChild -Process $child -TimeoutSeconds 2 } | Should -Throw '*did not finish within 2 s*'
        Test-MyHvProcessAlive -ProcessId $childPid | Should -BeFalse
        $child.ScriptFile | Should -Not -Exist
    }
}

Describe 'Process probes' {
    It 'Get-MyHvProcess finds a live process by its command line; Stop-MyHvProcess ends it; then it is neither listed nor alive' {
        $marker = Join-Path (New-MyHvTestDir -Prefix 'mhQ') 'marker'
        $script:Homes.Add((Split-Path -Parent $marker))
        Set-Content -LiteralPath $marker -Value 'x'
        $sleep = Start-QuietProcess -FilePath 'tail' -ArgumentList '-f', $marker
        try {
            $found = @(Get-MyHvProcess -Text $marker)
            $found.Pid | Should -Be $sleep.Id
            $found.Name | Should -Be 'tail'
            $found.Program | Should -Be 'tail'
            $found.ParentPid | Should -Be $PID
            @(Get-MyHvProcess -Text $marker -Name 'other') | Should -BeNullOrEmpty
            Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeTrue
            Get-MyHvProcessStartTicks -ProcessId $sleep.Id | Should -BeGreaterThan 0
            Stop-MyHvProcess -ProcessId $sleep.Id
            Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeFalse
            Get-MyHvProcessStartTicks -ProcessId $sleep.Id | Should -BeNullOrEmpty -Because 'a zombie or a reaped process has exited'
            @(Get-MyHvProcess -Text $marker) | Should -BeNullOrEmpty
        }
        finally { if (-not $sleep.HasExited) { $sleep.Kill() }; $sleep.WaitForExit() }
    }

    It 'Test-MyHvEventually is true once the condition holds and false when it never does' {
        $start = [DateTime]::UtcNow
        Test-MyHvEventually -TimeoutSeconds 30 { ([DateTime]::UtcNow - $start).TotalMilliseconds -gt 300 } | Should -BeTrue
        Test-MyHvEventually -TimeoutSeconds 1 { $false } | Should -BeFalse
        { Wait-MyHvCondition -TimeoutSeconds 1 -Because 'nothing' -Condition { $false } } | Should -Throw '*waiting for nothing*'
    }
}

Describe 'Invoke-MyHvCapture' {
    It 'runs the block in the caller''s scope, collects non-terminating errors and goes on, keeps what came before a terminating one, and restores the caller''s preference' {
        $ErrorActionPreference = 'Stop'
        $local = 'seen'
        $captured = Invoke-MyHvCapture { "local=$local"; Write-Error 'first'; 'after'; Get-Item -LiteralPath '/no/such/thing' -ErrorAction Stop; 'never' }
        $captured.Output | Should -Be @('local=seen', 'after')
        @($captured.Errors).Count | Should -Be 2
        "$($captured.Errors[0])" | Should -Be 'first'
        $captured.Terminated | Should -BeTrue
        $ErrorActionPreference | Should -Be 'Stop'
    }
}

Describe 'Remove-MyHvTestNamespace' {
    It 'refuses a namespace this kit did not make' {
        { Remove-MyHvTestNamespace -Name 'someone-elses' } | Should -Throw '*did not make it*'
    }
}
