# Tests of tests/Pester/TestHelpers.psm1, the helpers every suite uses: test homes, the in-suite
# leak census, and prerequisites that skip on a laptop but fail under CI=true.
# (The skip half of Skip-UnlessPrerequisite is proven end to end by the Prerequisite fixture.)

BeforeAll {
    Import-Module (Join-Path (Split-Path -Parent $PSScriptRoot) 'TestHelpers.psm1') -Force
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
        Join-Path $root 'tests/Pester/TestHelpers.psm1' | Should -Exist
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
