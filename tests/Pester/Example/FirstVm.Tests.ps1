# The example suite of tests/Pester/README.md: one VM of the tiny image, started under TCG, seen
# running with the QEMU it records, stopped, and nothing of its run left. Copy it to start a suite.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite   # the built module, a fresh MYHV_HOME, MYHV_ACCEL=tcg
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome   # every VM removed, then the leak census
}

Describe 'A first VM' {
    BeforeAll {
        # Skip-UnlessPrerequisite works inside an It only: note the prerequisite here, check it in each It.
        $script:hasQemu = [bool] (Get-Command -Name qemu-system-x86_64 -CommandType Application -ErrorAction Ignore)
        if ($hasQemu) { $script:vm = New-MyHvTestVm -Name 'first' -Image tiny -MemoryMiB 128 -Start }
        $script:paths = Get-MyHvVmPath -HomePath $testHome -Name 'first'
    }

    It 'runs, and the QEMU it records is the one running for it' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition $hasQemu
        (Get-MyVm -Name 'first').Status | Should -Be 'Running'
        $qemu = @(Get-MyHvProcess -Text $paths.Marker -Name 'qemu-system-x86_64')
        $qemu.Pid | Should -Be $vm.Pid
    }

    It 'stops, leaving nothing of its run' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition $hasQemu
        Stop-MyVm -Name 'first' -Force
        (Get-MyVm -Name 'first').Status | Should -Be 'Stopped'
        @(Get-MyHvVmResidue -HomePath $testHome -Name 'first') | Should -BeNullOrEmpty
    }
}
