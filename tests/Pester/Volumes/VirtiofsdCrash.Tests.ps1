<#
Issue 5, helpers that die: a VM's virtiofsd killed with SIGKILL while the VM runs, and QEMU itself
killed with SIGKILL while it has volumes. Get-MyVm must say so, and stop / crash recovery / the next
start must leave no virtiofsd, socket or /run/virtiofsd lock file behind.
The tests run in order and share one VM.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite

    $script:share = New-MyHvTestDir -Prefix 'mhS'
    $script:socket = Join-Path $script:testHome 'run/crash/fs-data.sock'
    New-MyVm -Name 'crash' -Network None -Volume @{ Path = $script:share; Tag = 'data' } | Out-Null

    function Assert-NoVirtiofsdLeft {
        @(Get-MyHvVirtiofsd -SocketPath $script:socket) | Should -BeNullOrEmpty
        Test-Path -LiteralPath $script:socket | Should -BeFalse
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome) | Should -BeNullOrEmpty
        @(Get-MyHvSocketFile -Path $script:testHome) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
    if ($script:share) { Remove-Item -LiteralPath $script:share -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'A virtiofsd killed while its VM runs' {
    It 'is reported by Get-MyVm (Problems: virtiofsd not running) while the VM stays Running' {
        Start-MyVm -Name 'crash' -Wait -TimeoutSeconds 120
        (Get-MyVm -Name 'crash').Problems | Should -BeNullOrEmpty
        $daemons = @(Get-MyHvVirtiofsd -SocketPath $script:socket)
        $daemons.Count | Should -BeGreaterThan 0
        $top = @($daemons | Where-Object { $_.ParentPid -notin $daemons.Pid })
        $top.Count | Should -Be 1
        $script:killedPid = $top[0].Pid

        & kill -9 $script:killedPid
        Test-MyHvEventually -TimeoutSeconds 15 { @(Get-MyHvVirtiofsd -SocketPath $script:socket).Count -eq 0 } | Should -BeTrue -Because 'the killed daemon (and its sandbox child) is gone'

        $vm = Get-MyVm -Name 'crash'
        $vm.Status | Should -Be 'Running'
        $vm.Problems.Count | Should -Be 1
        $vm.Problems[0] | Should -Match "virtiofsd \(pid $($script:killedPid)\) for volume 'data' is not running"
    }

    It 'Stop-MyVm skips the power button (the guest cannot finish a power-off), says why, and leaves no virtiofsd, socket or lock file behind' {
        # The guest cannot unmount a volume whose daemon is dead, so the power button would never
        # complete: with the dead helper among the VM's Problems, the ladder starts at the quit.
        $output = @(Stop-MyVm -Name 'crash' -TimeoutSeconds 60 -PassThru -Verbose 4>&1)
        $stopped = @($output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $narration = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $stopped.Count | Should -Be 1
        $stopped = $stopped[0]
        @($narration | Where-Object { $_ -match "not pressing the ACPI power button: virtiofsd \(pid $($script:killedPid)\) for volume 'data' is not running" }) |
            Should -HaveCount 1 -Because "the stop must say why it skips the power button: $($narration -join ' | ')"
        @($narration | Where-Object { $_ -like '*pressing the ACPI power button; waiting*' }) | Should -BeNullOrEmpty
        $stopped.StopMethod | Should -Be 'HypervisorQuit'
        $stopped.Status | Should -Be 'Stopped'
        $stopped.Problems | Should -BeNullOrEmpty
        Assert-NoVirtiofsdLeft
    }

    It 'the next Start-MyVm runs a fresh virtiofsd, reports no problem, and leaves nothing after its stop' {
        Start-MyVm -Name 'crash' -Wait -TimeoutSeconds 120
        $vm = Get-MyVm -Name 'crash'
        $vm.Status | Should -Be 'Running'
        $vm.Problems | Should -BeNullOrEmpty
        $daemons = @(Get-MyHvVirtiofsd -SocketPath $script:socket)
        $daemons.Count | Should -BeGreaterThan 0
        $daemons.Pid | Should -Not -Contain $script:killedPid
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome).Count | Should -Be 1
        Get-MyVmConsole -Name 'crash' | Should -Contain 'myhv-guest: volume data rw at /mnt/data'
        Stop-MyVm -Name 'crash' | Out-Null
        Assert-NoVirtiofsdLeft
    }
}

Describe 'QEMU killed while it has volumes' {
    It 'Get-MyVmStats says VmNotRunning, Get-MyVm says Failed, and virtiofsd with its lock file are gone' {
        # QEMU connects to virtiofsd at launch: no need to wait for the guest.
        Start-MyVm -Name 'crash'
        $vm = Get-MyVm -Name 'crash'
        $vm.Status | Should -Be 'Running'
        @(Get-MyHvVirtiofsd -SocketPath $script:socket).Count | Should -BeGreaterThan 0
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome).Count | Should -Be 1

        Stop-MyHvProcess -ProcessId $vm.Pid -TimeoutSeconds 15   # SIGKILL, and QEMU is gone once no thread of it is left

        $err = $null
        try { Get-MyVmStats -Name 'crash' -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'VmNotRunning*'

        $null = Assert-MyHvVmDied -Name 'crash'
        # virtiofsd exits when QEMU disconnects, and the teardown ends it otherwise; either way it is gone.
        Test-MyHvEventually -TimeoutSeconds 15 { @(Get-MyHvVirtiofsd -SocketPath $script:socket).Count -eq 0 } | Should -BeTrue
        Assert-NoVirtiofsdLeft
    }

    It 'the next Start-MyVm succeeds and its stop leaves nothing' {
        Start-MyVm -Name 'crash'
        $vm = Get-MyVm -Name 'crash'
        $vm.Status | Should -Be 'Running'
        $vm.Problems | Should -BeNullOrEmpty
        @(Get-MyHvVirtiofsd -SocketPath $script:socket).Count | Should -BeGreaterThan 0
        Stop-MyVm -Name 'crash' -Force | Out-Null
        Assert-NoVirtiofsdLeft
    }
}
