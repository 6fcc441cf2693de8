# Issue 3, acceptance 5 (as far as a suite can check it): `build.ps1 -Task Demo` does the main job.
# The README's `dotnet tool restore && dotnet pwsh ./build.ps1 -Task Demo` also runs Bootstrap and
# Build; the runner has already built, so the children here set MYHV_DEMO_SKIP_BUILD=1 and run the
# rest exactly as the README does (a child pwsh, build.ps1 -Task Demo, its exit code).
# Three runs, at once: in a user's MYHV_HOME that already holds a VM named 'demo' (which the demo
# must leave alone), with no MYHV_HOME (a temporary home, removed), and with a failure injected
# (exit code 1, everything the demo created removed).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:repo = Get-MyHvRepoRoot
    $script:buildScript = Join-Path $script:repo 'build.ps1'

    $script:failHome = New-MyHvTestHome
    $script:userHome = New-MyHvTestHome          # MYHV_HOME in this process from here on
    $null = New-MyVm -Name demo -Cpus 2 -ErrorAction Stop
    $script:userVmBefore = Get-MyHvTreeSnapshot -Path (Join-Path $script:userHome 'vms/demo')
    $script:tmpDir = New-MyHvTestDir -Prefix 'mhD'

    function Start-Demo {
        param([hashtable] $Environment)
        $envVars = @{ MYHV_DEMO_SKIP_BUILD = '1'; MYHV_FAILPOINTS = $null; NO_COLOR = '1' }
        foreach ($key in $Environment.Keys) { $envVars[$key] = $Environment[$key] }
        Start-MyHvPwsh -File $script:buildScript -ArgumentList '-Task', 'Demo' -WorkingDirectory $script:repo -Environment $envVars
    }
    function Complete-Demo {
        param($Child)
        $done = Wait-MyHvPwsh -Process $Child -TimeoutSeconds 600
        $text = (($done.Stdout + "`n" + $done.Stderr) -replace '\x1B\[[0-9;?]*[A-Za-z]', '')
        [pscustomobject]@{ ExitCode = $done.ExitCode; Text = $text; Lines = @($text -split '\r?\n') }
    }

    # All three at once: the machine has time for it, the suite gets shorter.
    $inUserHome = Start-Demo -Environment @{ MYHV_HOME = $script:userHome }
    $inTempHome = Start-Demo -Environment @{ MYHV_HOME = $null; MYHV_ACCEL = 'tcg'; TMPDIR = $script:tmpDir }
    $failing = Start-Demo -Environment @{ MYHV_HOME = $script:failHome; MYHV_ACCEL = 'tcg'; MYHV_FAILPOINTS = 'start.api-ready=error' }
    $script:userRun = Complete-Demo $inUserHome
    $script:tempRun = Complete-Demo $inTempHome
    $script:failRun = Complete-Demo $failing
}

AfterAll {
    foreach ($h in $script:userHome, $script:failHome) {
        $env:MYHV_HOME = $h
        if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
            Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
        }
    }
    Assert-MyHvNoLeftovers -Home $script:userHome
    Assert-MyHvNoLeftovers -Home $script:failHome
    Assert-MyHvNoLeftovers -Home $script:tmpDir
    Remove-Item -LiteralPath $script:userHome, $script:failHome, $script:tmpDir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'build.ps1 -Task Demo in a MYHV_HOME that already holds a VM named demo' {
    BeforeAll {
        $script:run = $script:userRun
        # The demo's VM: the row of Get-MyVm's table that says Running.
        $script:row = @($run.Lines | Where-Object { $_ -match '^(demo[-0-9]*)\s+Running\b' })
        $script:demoVm = if ($row) { ([regex]::Match($row[0], '^(demo[-0-9]*)')).Groups[1].Value } else { $null }
    }

    It 'exits with 0' {
        $run.ExitCode | Should -Be 0 -Because $run.Text
    }

    It 'shows its VM Running, under a name other than the existing one' {
        $row.Count | Should -Be 1 -Because $run.Text
        $demoVm | Should -Not -Be 'demo'
        $demoVm | Should -Match '^demo-\d+$'
    }

    It 'shows the stats, the readiness line and the boot lines of the console' {
        ($run.Lines -match '^CpuSeconds\s*:\s*[0-9.]+').Count | Should -Be 1 -Because $run.Text
        ($run.Lines -match '^MemoryRssBytes\s*:\s*[1-9][0-9]*').Count | Should -Be 1
        ($run.Lines -match '^\s*myhv-guest: boot-count 1$').Count | Should -Be 1
        $run.Lines | Should -Contain 'Readiness line: myhv-guest: ready'
    }

    It 'stops the VM gracefully and says so' {
        $run.Lines | Should -Contain 'Stop method: GuestPowerOff'
        @($run.Lines | Where-Object { $_ -match "^$([regex]::Escape($demoVm))\s+Stopped\b" }).Count | Should -Be 1
    }

    It 'removes its VM and leaves nothing behind, nor touches the existing VM' {
        @(Get-MyVm | ForEach-Object Name) | Should -Be @('demo')
        $userVmNow = Get-MyHvTreeSnapshot -Path (Join-Path $userHome 'vms/demo')
        $userVmNow | Should -Be $userVmBefore
        Test-Path -LiteralPath (Join-Path $userHome "vms/$demoVm") | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $userHome "locks/$demoVm.lock") | Should -BeFalse
        Test-Path -LiteralPath $userHome | Should -BeTrue     # the user's home stays
        @(Get-MyHvLeftover -Home $userHome) | Should -BeNullOrEmpty
    }
}

Describe 'build.ps1 -Task Demo without MYHV_HOME' {
    It 'runs in a temporary home, shows Running, the readiness line and GuestPowerOff, exits with 0' {
        $tempRun.ExitCode | Should -Be 0 -Because $tempRun.Text
        ($tempRun.Lines -match "^MYHV_HOME: $([regex]::Escape($tmpDir))/\S+ \(temporary").Count | Should -Be 1 -Because $tempRun.Text
        ($tempRun.Lines -match '^demo\s+Running\b').Count | Should -Be 1
        $tempRun.Lines | Should -Contain 'Readiness line: myhv-guest: ready'
        $tempRun.Lines | Should -Contain 'Stop method: GuestPowerOff'
    }

    It 'removes the temporary home, and nothing of it is left' {
        @(Get-ChildItem -LiteralPath $tmpDir -Force) | Should -BeNullOrEmpty
        @(Get-MyHvLeftover -Home $tmpDir) | Should -BeNullOrEmpty
    }
}

Describe 'build.ps1 -Task Demo when the start fails' {
    It 'exits with 1 and says why' {
        $failRun.ExitCode | Should -Be 1 -Because $failRun.Text
        ($failRun.Lines -match '^Demo failed: .*api-ready').Count | Should -Be 1 -Because $failRun.Text
        $failRun.Lines | Should -Not -Contain 'Demo finished.'
    }

    It 'removes the VM it created, and leaves nothing behind' {
        $failRun.Lines | Should -Contain 'Cleaning up: Remove-MyVm -Name demo -Force'
        $env:MYHV_HOME = $failHome
        try { @(Get-MyVm) | Should -BeNullOrEmpty }
        finally { $env:MYHV_HOME = $userHome }
        Test-Path -LiteralPath (Join-Path $failHome 'vms/demo') | Should -BeFalse
        @(Get-MyHvLeftover -Home $failHome) | Should -BeNullOrEmpty
    }
}
