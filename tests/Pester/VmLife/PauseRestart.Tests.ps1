# Suspend-MyVm / Resume-MyVm and Restart-MyVm on one real tiny guest:
# - paused: status Paused (views, Get-MyVm, Get-MyVmStats), the QEMU process's CPU time stops
#   growing while a busy guest is paused and grows again after resume;
# - Paused is read from reality: a guest continued behind the module's back is shown Running;
# - Restart-MyVm: the ladder and a new process, -Force a reset in the same process; the boot
#   counter on the disk keeps going;
# - Stop-MyVm of a paused VM powers the guest off; a paused VM whose QEMU was killed is Failed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:bootTimeout = 180
    $script:name = 'pz'

    function Get-BootCount {
        param([long] $Offset = 0)
        [int] (Wait-MyHvConsoleText -HomePath $script:vmHome -Name $script:name -Pattern '^myhv-guest: boot-count (\d+)$' -Offset $Offset -TimeoutSeconds 60)
    }

    function Measure-CpuGrowth {
        # CPU seconds the QEMU process used over a few seconds of wall time (a paused guest: about none, whatever the host's load).
        param([int] $ProcessId, [int] $Seconds = 3)
        $a = Get-MyHvCpuSeconds -ProcessId $ProcessId
        Start-Sleep -Seconds $Seconds
        (Get-MyHvCpuSeconds -ProcessId $ProcessId) - $a
    }

    function Wait-CpuGrowth {
        # Waits until the QEMU process has used -Seconds more CPU than now: a running busy guest
        # does, however loaded the host is (a fixed window would measure the host's load instead); an idle
        # one (a few per cent of a CPU under TCG) does not within the time-out.
        param([int] $ProcessId, [double] $Seconds = 1, [int] $TimeoutSeconds = 20, [string] $Because)
        $start = Get-MyHvCpuSeconds -ProcessId $ProcessId
        Wait-MyHvCondition -TimeoutSeconds $TimeoutSeconds -Because $Because -Condition {
            ((Get-MyHvCpuSeconds -ProcessId $ProcessId) - $start) -ge $Seconds
        }
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Pause and resume' {
    BeforeAll {
        $null = New-MyVm -Name $name -Cpus 1 -MemoryMiB 128 -ErrorAction Stop
    }

    It 'refuses a VM that is not running with VmNotRunning' {
        foreach ($command in 'Suspend-MyVm', 'Resume-MyVm', 'Restart-MyVm') {
            $err = $null
            & $command -Name $name -ErrorVariable err -ErrorAction SilentlyContinue
            @($err).Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
        }
    }

    It 'pauses a running guest: Paused everywhere, and the CPU time stops growing; resume lets it grow again' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $vm = Start-MyVm -Name $name -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $script:qemuPid = $vm.Pid
        (Get-BootCount) | Should -Be 1
        # Keep the guest's CPU busy, so a running guest's CPU time visibly grows.
        Send-MyHvConsoleLine -HomePath $vmHome -Name $name -Line 'while :; do :; done &'
        Wait-CpuGrowth -ProcessId $qemuPid -Seconds 1 -Because 'the busy guest to use a CPU second'

        $paused = Suspend-MyVm -Name $name -PassThru -ErrorAction Stop
        $paused.Status | Should -Be 'Paused'
        $paused.Pid | Should -Be $qemuPid
        (Get-MyVm -Name $name).Status | Should -Be 'Paused'
        (Get-MyVm -Name $name | Format-Table | Out-String -Width 200) | Should -Match "\b$name\s+Paused\b"
        (Invoke-MyHvQmp -HomePath $vmHome -Name $name -Command 'query-status').status | Should -Be 'paused'
        $stats1 = Get-MyVmStats -Name $name -ErrorAction Stop
        $stats1.Status | Should -Be 'Paused'
        $idle = Measure-CpuGrowth -ProcessId $qemuPid
        $idle | Should -BeLessThan 0.1 -Because 'a paused guest runs no CPU (it used more than a second while running)'
        $stats2 = Get-MyVmStats -Name $name -ErrorAction Stop
        ($stats2.CpuSeconds - $stats1.CpuSeconds) | Should -BeLessThan 0.3
        # Pausing again is no error; the VM stays paused.
        (Suspend-MyVm -Name $name -PassThru -ErrorAction Stop).Status | Should -Be 'Paused'

        $resumed = Resume-MyVm -Name $name -PassThru -ErrorAction Stop
        $resumed.Status | Should -Be 'Running'
        Wait-CpuGrowth -ProcessId $qemuPid -Seconds 1 -Because 'the busy guest to run again after Resume-MyVm'
        (Get-MyVmStats -Name $name).CpuSeconds | Should -BeGreaterThan ($stats2.CpuSeconds + 0.9)
        # The guest went on where it was: no new boot.
        (Read-MyHvConsoleText -HomePath $vmHome -Name $name) | Should -Not -Match 'boot-count 2'
        Send-MyHvConsoleLine -HomePath $vmHome -Name $name -Line 'kill $!'
    }

    It 'reads Paused from the hypervisor: a guest continued behind the module''s back is Running' {
        $null = Suspend-MyVm -Name $name -ErrorAction Stop
        $null = Invoke-MyHvQmp -HomePath $vmHome -Name $name -Command 'cont'
        (Get-MyVm -Name $name).Status | Should -Be 'Running'
        (Get-Content -Raw (Join-Path $vmHome "vms/$name/state.json") | ConvertFrom-Json).status | Should -Be 'Running'
    }

    It 'Start-MyVm of a paused VM is VmAlreadyRunning; Set-MyVm refuses it too' {
        $null = Suspend-MyVm -Name $name -ErrorAction Stop
        $err = $null
        Start-MyVm -Name $name -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*'
        Set-MyVm -Name $name -Cpus 2 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*'
        $err[0].Exception.Message | Should -BeLike "*is paused*"
        $null = Resume-MyVm -Name $name -ErrorAction Stop
    }
}

Describe 'Restart' {
    It 'restarts through the stop ladder: a new hypervisor process, the same disk (boot counter 2)' {
        $vm = Restart-MyVm -Name $name -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $vm.Pid | Should -Not -Be $qemuPid
        $script:qemuPid = $vm.Pid
        (Get-BootCount) | Should -Be 2
    }

    It '-Force resets the guest in the same process (QMP system_reset): boot counter 3, same pid' {
        $offset = Get-MyHvConsoleLength -HomePath $vmHome -Name $name
        $vm = Restart-MyVm -Name $name -Force -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $vm.Pid | Should -Be $qemuPid
        (Get-BootCount -Offset $offset) | Should -Be 3
        (Get-MyVm -Name $name).Status | Should -Be 'Running'
    }

    It 'restarts a paused VM with -Force into a running guest' {
        $null = Suspend-MyVm -Name $name -ErrorAction Stop
        $offset = Get-MyHvConsoleLength -HomePath $vmHome -Name $name
        $vm = Restart-MyVm -Name $name -Force -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        (Get-BootCount -Offset $offset) | Should -Be 4
        (Invoke-MyHvQmp -HomePath $vmHome -Name $name -Command 'query-status').status | Should -Be 'running'
    }
}

Describe 'The end of a paused VM' {
    It 'Stop-MyVm of a paused VM lets the guest power off' {
        $null = Suspend-MyVm -Name $name -ErrorAction Stop
        $vm = Stop-MyVm -Name $name -PassThru -TimeoutSeconds 120 -ErrorAction Stop
        $vm.Status | Should -Be 'Stopped'
        $vm.StopMethod | Should -Be 'GuestPowerOff'
        Get-MyHvLeftover -HomePath $vmHome | Should -BeNullOrEmpty
    }

    It 'a paused VM whose QEMU was killed is Failed, and its run is torn down' {
        $vm = Start-MyVm -Name $name -PassThru -ErrorAction Stop
        $null = Suspend-MyVm -Name $name -ErrorAction Stop
        Stop-Process -Id $vm.Pid -Force
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ((Test-Path "/proc/$($vm.Pid)") -and (Get-Content "/proc/$($vm.Pid)/stat" -ErrorAction Ignore) -notmatch '\) [ZX] ' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $after = Get-MyVm -Name $name
        $after.Status | Should -Be 'Failed'
        $after.Pid | Should -BeNullOrEmpty
        $after.StatusReason | Should -BeLike '*died unexpectedly*'
        Test-Path -LiteralPath (Join-Path $vmHome "run/$name") | Should -BeFalse
        $err = $null
        Resume-MyVm -Name $name -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
    }
}
