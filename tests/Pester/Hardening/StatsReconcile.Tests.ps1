# Get-MyVmStats alone (no other command after it) on a VM whose QEMU was killed reconciles like
# every other command: it corrects the recorded state and tears down the run's artifacts. The test
# reads state.json and the runtime folder right after the stats call, before anything else runs.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:share = New-MyHvTestDir -Prefix 'hrV'
}

AfterAll {
    if ($script:vmHome) { Complete-MyHvTestSuite -RemoveHome -HomePath $script:vmHome }
    if ($script:share) { Remove-Item -LiteralPath $script:share -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Get-MyVmStats reconciles' {

    It 'a VM <Case> whose QEMU was killed: the stats call fails with VmNotRunning, and right after it state.json says Failed and the runtime folder is gone' -ForEach @(
        @{ Case = 'with user networking'; Name = 'st1'; Volume = $false }
        @{ Case = 'with a virtiofs volume'; Name = 'st2'; Volume = $true }
    ) {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $paths = Get-MyHvVmPath -HomePath $vmHome -Name $Name
        $spec = @{ Name = $Name; Image = 'tiny'; MemoryMiB = 128 }
        if ($Volume) { $spec.Volume = @{ Path = $share; Tag = 'data' } }
        $null = New-MyVm @spec -ErrorAction Stop
        Start-MyVm -Name $Name -ErrorAction Stop
        $running = Get-Content -Raw -LiteralPath $paths.State | ConvertFrom-Json
        $running.status | Should -Be 'Running' -Because 'precondition'
        @($running.artifacts).Count | Should -BeGreaterThan 2 -Because 'precondition: the run recorded its artifacts'
        $paths.RunDir | Should -Exist
        Stop-MyHvProcess -ProcessId $running.hypervisor.pid

        $err = try { Get-MyVmStats -Name $Name -ErrorAction Stop; $null } catch { $_ }

        # Read first, before any other command could reconcile.
        $stateAfter = Get-Content -Raw -LiteralPath $paths.State | ConvertFrom-Json
        $runDirAfter = Test-Path -LiteralPath $paths.RunDir
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'VmNotRunning*'
        $stateAfter.status | Should -Be 'Failed' -Because 'the stats call corrected the recorded state'
        $stateAfter.PSObject.Properties.Name | Should -Not -Contain 'hypervisor'
        @($stateAfter.artifacts) | Should -BeNullOrEmpty -Because 'the run''s artifacts were torn down'
        $stateAfter.reason | Should -Match 'died unexpectedly'
        $runDirAfter | Should -BeFalse -Because 'the stats call removed the runtime folder'
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $Name) | Should -BeNullOrEmpty
    }
}
