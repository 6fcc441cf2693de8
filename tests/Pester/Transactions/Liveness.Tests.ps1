# Issue 4, acceptance 3 and 5 (liveness first, stale runtime artifacts): the module checks the
# recorded hypervisor process (pid, start time, executable) before it trusts the state or opens a
# socket. kill -9 of QEMU under a running VM: Get-MyVmStats is a proper VmNotRunning error record
# (no socket error), Get-MyVm shows Failed with a reason and the console's last lines, and the next
# start works even with the dead run's sockets still on disk. A state file naming a live unrelated
# process: the VM is not running, and that process is never signalled. QEMU ending cleanly behind
# the module's back (QMP quit, guest power-off) is Stopped, not Failed. Volumes: kill -9 of QEMU
# takes its virtiofsd with it; kill -9 of a virtiofsd is reported and cleaned up by stop.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite   # this suite does not test the KVM probe
    $script:bootTimeout = 240  # TCG boots take ~3 s alone, far longer on a loaded machine

    function Start-RunningVm {
        # The test's precondition: the VM runs (a fresh start) with a live QEMU; returns its pid.
        param([string] $Name)
        Initialize-MyHvStoppedVm -HomePath $vmHome -Name $Name
        Start-MyVm -Name $Name -ErrorAction Stop
        $vm = Get-MyVm -Name $Name -ErrorAction Stop
        $vm.Status | Should -Be 'Running' -Because 'precondition: the VM runs'
        Test-MyHvProcessAlive -ProcessId $vm.Pid | Should -BeTrue
        $vm.Pid
    }

    function Wait-ConsoleText {
        # Waits until the VM's console log holds a line matching -Pattern (the guest is alive and talking).
        param([string] $Name, [string] $Pattern = '\S', [int] $TimeoutSeconds = $bootTimeout)
        $console = (Get-MyHvVmPath -HomePath $vmHome -Name $Name).Console
        Wait-MyHvCondition -TimeoutSeconds $TimeoutSeconds -Because "console of '$Name' to match '$Pattern'" -Condition {
            (Test-Path -LiteralPath $console) -and ([System.IO.File]::ReadAllText($console) -match $Pattern)
        }.GetNewClosure()
    }

    function Assert-NotRunningErrorRecord {
        # Get-MyVmStats on a VM whose hypervisor is gone: exactly one VmNotRunning ErrorRecord,
        # made by the module (not a socket exception surfacing), saying nothing about sockets.
        param([string] $Name)
        $statErrors = $null
        $stats = @(Get-MyVmStats -Name $Name -ErrorAction SilentlyContinue -ErrorVariable statErrors)
        $stats | Should -BeNullOrEmpty
        @($statErrors) | Should -HaveCount 1
        $record = $statErrors[0]
        $record | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $record.FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
        "$($record.CategoryInfo.Category)" | Should -Be 'InvalidOperation'
        "$($record.TargetObject)" | Should -Be $Name
        $record.Exception.GetType().FullName | Should -Be 'MyHypervisor.Core.Errors.MyHvException'
        "$($record.Exception.Kind)" | Should -Be 'VmNotRunning'
        $chain = @()
        for ($e = $record.Exception; $null -ne $e; $e = $e.InnerException) { $chain += $e }
        @($chain | Where-Object { $_ -is [System.Net.Sockets.SocketException] -or $_.GetType().Name -like 'Qmp*' }) | Should -BeNullOrEmpty -Because 'no socket error may surface'
        "$($record.Exception.Message) $($record.ErrorDetails)" | Should -Not -Match 'socket|connect|refused|No such file'
        # The same with -ErrorAction Stop: a terminating error with the same id.
        { Get-MyVmStats -Name $Name -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotRunning*'
    }

    function Set-StateLostTrack {
        # The record lost track of the run (as after a crash while writing it): Stopped, no artifacts.
        param([string] $Name)
        $file = (Get-MyHvVmPath -HomePath $vmHome -Name $Name).State
        $state = Get-Content -Raw -LiteralPath $file | ConvertFrom-Json -AsHashtable
        $state.status = 'Stopped'
        $state.Remove('hypervisor')
        $state.Remove('attempt')
        $state.artifacts = @()
        Set-Content -LiteralPath $file -Value ($state | ConvertTo-Json -Depth 10)
    }

    function Start-UnrelatedProcess {
        # A live process that is not the VM's: 'sleep 300', started by this test.
        $info = [System.Diagnostics.ProcessStartInfo]::new('sleep', '300')
        $info.UseShellExecute = $false
        [System.Diagnostics.Process]::Start($info)
    }
}

AfterAll {
    Complete-MyHvTestSuite -RemoveHome -HomePath $vmHome
}

Describe 'Liveness first: the recorded hypervisor is checked before the state is trusted' {
    BeforeAll {
        $script:vm = 'lv'
        $script:paths = Get-MyHvVmPath -HomePath $vmHome -Name $vm
        $null = New-MyVm -Name $vm -ErrorAction Stop
        Start-MyVm -Name $vm -ErrorAction Stop   # the overlay exists from here on
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
    }

    Context 'kill -9 of QEMU under a running VM' {
        It 'Get-MyVmStats gives VmNotRunning as a proper error record, Get-MyVm shows Failed with a reason and the console tail, and Start-MyVm works' {
            $qemuPid = Start-RunningVm -Name $vm
            Wait-ConsoleText -Name $vm
            (Get-MyVmStats -Name $vm -ErrorAction Stop).Status | Should -Be 'Running' -Because 'precondition: stats work while QEMU lives'

            Stop-MyHvProcess -ProcessId $qemuPid
            $paths.ApiSocket | Should -Exist -Because 'SIGKILL leaves QEMU''s API socket behind'
            $paths.PidFile | Should -Exist -Because 'SIGKILL leaves QEMU''s pid file behind'

            Assert-NotRunningErrorRecord -Name $vm
            $info = Get-MyVm -Name $vm -ErrorAction Stop
            $info.Status | Should -Be 'Failed'
            $info.Pid | Should -BeNullOrEmpty
            $info.StatusReason | Should -Match "pid $qemuPid"
            $info.StatusReason | Should -Match 'died|killed|crashed'
            $info.StoppedAt | Should -Not -BeNullOrEmpty
            @($info.ConsoleTail) | Should -Not -BeNullOrEmpty -Because 'the console''s last lines are kept for Get-MyVm'
            $consoleText = [System.IO.File]::ReadAllText($paths.Console).Replace("`r", '')
            $last = @($info.ConsoleTail | Where-Object { $_.Trim() })[-1]
            $consoleText | Should -BeLike "*$([WildcardPattern]::Escape($last))*"
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty -Because 'the dead run''s artifacts were torn down'
            # The failure is remembered, not re-detected: a second look says the same.
            (Get-MyVm -Name $vm -ErrorAction Stop).StatusReason | Should -Be $info.StatusReason

            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $vm
        }

        It 'the dead run''s api.sock and channel.sock are still on disk, and the next Start-MyVm works (no "address already in use")' {
            $qemuPid = Start-RunningVm -Name $vm
            Stop-MyHvProcess -ProcessId $qemuPid
            foreach ($socket in $paths.ApiSocket, $paths.ChannelSocket) {
                $socket | Should -Exist -Because 'precondition: the killed QEMU left its socket'
                (& stat -c '%F' -- $socket) | Should -Be 'socket'
            }

            $startErrors = $null
            $started = @(Start-MyVm -Name $vm -PassThru -ErrorAction SilentlyContinue -ErrorVariable startErrors)

            @($startErrors | ForEach-Object { "$_" }) | Should -BeNullOrEmpty
            $started | Should -HaveCount 1
            $started[0].Status | Should -Be 'Running'
            $started[0].Pid | Should -Not -Be $qemuPid
            Test-MyHvProcessAlive -ProcessId $started[0].Pid | Should -BeTrue
            (Get-MyVmStats -Name $vm -ErrorAction Stop).Status | Should -Be 'Running' -Because 'the new run answers on its own fresh API socket'
            Stop-MyVm -Name $vm -Force -ErrorAction Stop
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty
        }

        It 'stale sockets and a pid file that no record mentions are swept before the next start' {
            $qemuPid = Start-RunningVm -Name $vm
            Stop-MyHvProcess -ProcessId $qemuPid
            Set-StateLostTrack -Name $vm
            foreach ($stale in $paths.ApiSocket, $paths.ChannelSocket, $paths.PidFile) { $stale | Should -Exist -Because 'precondition: stale runtime files' }
            (Get-MyVm -Name $vm -ErrorAction Stop).Status | Should -Be 'Stopped'

            $out = @(Start-MyVm -Name $vm -PassThru -Verbose -ErrorAction Stop 4>&1)

            $verbose = Get-MyHvVerboseLine -Output $out
            $verbose | Should -Contain "Removing stale runtime folder $($paths.RunDir)"
            $started = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            $started[0].Status | Should -Be 'Running'
            $started[0].Pid | Should -Not -Be $qemuPid
            (Get-MyVmStats -Name $vm -ErrorAction Stop).Status | Should -Be 'Running'
            Stop-MyVm -Name $vm -Force -ErrorAction Stop
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty
        }
    }

    Context 'a state file that names a live, unrelated process' {
        It 'recorded pid = a live sleep with <Case>: the VM is not running, and the sleep is never touched' -ForEach @(
            @{ Case = 'the wrong start time'; WrongTicks = $true; Executable = '/usr/bin/sleep' }
            @{ Case = 'the right start time but another executable'; WrongTicks = $false; Executable = '/usr/bin/qemu-system-x86_64' }
        ) {
            # A real Running record (captured from a real run), then pointed at the sleep.
            $null = Start-RunningVm -Name $vm
            $runningState = Get-Content -Raw -LiteralPath $paths.State | ConvertFrom-Json -AsHashtable
            Stop-MyVm -Name $vm -Force -ErrorAction Stop
            $sleep = Start-UnrelatedProcess
            try {
                $ticks = Get-MyHvProcessStartTicks -ProcessId $sleep.Id
                $runningState.status | Should -Be 'Running' -Because 'precondition: the captured record is a Running one'
                $runningState.hypervisor.pid = $sleep.Id
                $runningState.hypervisor.startTicks = if ($WrongTicks) { $ticks + 4242 } else { $ticks }
                $runningState.hypervisor.bootId = [System.IO.File]::ReadAllText('/proc/sys/kernel/random/boot_id').Trim()
                $runningState.hypervisor.executable = $Executable
                Set-Content -LiteralPath $paths.State -Value ($runningState | ConvertTo-Json -Depth 10)

                $info = Get-MyVm -Name $vm -ErrorAction Stop
                $info.Status | Should -Not -Be 'Running'
                "$($info.Status)" | Should -BeIn @('Stopped', 'Failed')
                $info.Pid | Should -BeNullOrEmpty
                Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeTrue -Because 'an unrelated process is never taken for the VM'
                Assert-NotRunningErrorRecord -Name $vm
                Stop-MyVm -Name $vm -Force -ErrorAction Stop
                Start-MyVm -Name $vm -ErrorAction Stop
                (Get-MyVm -Name $vm -ErrorAction Stop).Pid | Should -Not -Be $sleep.Id
                Stop-MyVm -Name $vm -Force -ErrorAction Stop

                Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeTrue -Because 'no command signalled the unrelated process'
                Get-MyHvProcessStartTicks -ProcessId $sleep.Id | Should -Be $ticks -Because 'it is the very same process'
                $sleep.HasExited | Should -BeFalse
                @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty
            }
            finally {
                if (-not $sleep.HasExited) { $sleep.Kill() }
                $null = $sleep.WaitForExit(10000)
                $sleep.Dispose()
            }
        }
    }

    Context 'QEMU ends cleanly behind the module''s back' {
        It 'QMP quit sent straight to the API socket: Get-MyVm says Stopped (not Failed), and Start-MyVm works' {
            $qemuPid = Start-RunningVm -Name $vm

            $reply = Invoke-MyHvQmp -Socket $paths.ApiSocket -Command 'quit' -Raw
            if ($null -ne $reply) { $reply | Should -Match '"return"' }
            Wait-MyHvCondition -TimeoutSeconds 60 -Because 'QEMU to quit' -Condition { -not (Test-MyHvProcessAlive -ProcessId $qemuPid) }.GetNewClosure()
            $paths.PidFile | Should -Not -Exist -Because 'a QEMU that quits cleanly removes its own pid file'

            $info = Get-MyVm -Name $vm -ErrorAction Stop
            $info.Status | Should -Be 'Stopped'
            $info.Pid | Should -BeNullOrEmpty
            "$($info.StopMethod)" | Should -Be 'AlreadyExited'
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty
            Assert-NotRunningErrorRecord -Name $vm
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $vm
        }

        It 'the guest powers off (ACPI power button pressed over QMP by the test): Get-MyVm says Stopped, and Start-MyVm works' {
            $qemuPid = Start-RunningVm -Name $vm
            Wait-ConsoleText -Name $vm -Pattern 'myhv-guest: ready'

            $reply = Invoke-MyHvQmp -Socket $paths.ApiSocket -Command 'system_powerdown' -Raw
            $reply | Should -Match '"return"'
            Wait-MyHvCondition -TimeoutSeconds $bootTimeout -Because 'the guest to power off' -Condition { -not (Test-MyHvProcessAlive -ProcessId $qemuPid) }.GetNewClosure()

            $info = Get-MyVm -Name $vm -ErrorAction Stop
            $info.Status | Should -Be 'Stopped'
            "$($info.StopMethod)" | Should -Be 'AlreadyExited'
            $info.StatusReason | Should -Match 'powered off|exited'
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm) | Should -BeNullOrEmpty
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $vm
        }
    }

    Context 'a VM with a volume (virtiofsd)' {
        BeforeAll {
            $script:volVm = 'lvvol'
            $script:volPaths = Get-MyHvVmPath -HomePath $vmHome -Name $volVm
            $script:share = Join-Path $vmHome 'share'
            $null = New-Item -ItemType Directory -Path $share -Force
            $null = New-MyHvTestVm -Name $volVm -Parameters @{ Volume = @{ Path = $share; Tag = 'data' } } -RanOnce   # its overlay holds data from an earlier run
        }

        It 'kill -9 of QEMU: VmNotRunning, Failed, and no virtiofsd, socket or lock file is left; Start-MyVm works' {
            $qemuPid = Start-RunningVm -Name $volVm
            @(Get-MyHvProcess -Needle $volPaths.Marker | Where-Object Program -EQ 'virtiofsd') | Should -Not -BeNullOrEmpty -Because 'precondition: virtiofsd serves the volume'
            @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome) | Should -Not -BeNullOrEmpty

            Stop-MyHvProcess -ProcessId $qemuPid

            Assert-NotRunningErrorRecord -Name $volVm
            (Get-MyVm -Name $volVm -ErrorAction Stop).Status | Should -Be 'Failed'
            @(Get-MyHvProcess -Needle $vmHome | Where-Object Program -EQ 'virtiofsd') | Should -BeNullOrEmpty
            @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome) | Should -BeNullOrEmpty
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $volVm) | Should -BeNullOrEmpty
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $volVm
        }

        It 'a dead run''s virtiofsd socket and /run/virtiofsd lock file that no record mentions are swept before the next start' {
            $qemuPid = Start-RunningVm -Name $volVm
            $helpers = @(Get-MyHvProcess -Needle $volPaths.Marker | Where-Object Program -EQ 'virtiofsd')
            $helpers | Should -Not -BeNullOrEmpty -Because 'precondition: virtiofsd serves the volume'
            foreach ($helper in $helpers) { Stop-MyHvProcess -ProcessId $helper.Pid }   # SIGKILL: it cannot clean up
            Stop-MyHvProcess -ProcessId $qemuPid
            Set-StateLostTrack -Name $volVm
            $locks = @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome)
            $locks | Should -Not -BeNullOrEmpty -Because 'precondition: the killed virtiofsd left its lock file'
            Join-Path $volPaths.RunDir 'fs-data.sock' | Should -Exist -Because 'precondition: the killed virtiofsd left its socket'

            $out = @(Start-MyVm -Name $volVm -PassThru -Verbose -ErrorAction Stop 4>&1)

            $verbose = Get-MyHvVerboseLine -Output $out
            foreach ($lock in $locks) { $verbose | Should -Contain "Removing stale helper lock file $lock" }
            $verbose | Should -Contain "Removing stale runtime folder $($volPaths.RunDir)"
            @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0].Status | Should -Be 'Running'
            $fresh = @(Get-MyHvProcess -Needle $volPaths.Marker | Where-Object Program -EQ 'virtiofsd')
            $fresh | Should -Not -BeNullOrEmpty
            @($fresh.Pid | Where-Object { $_ -in $helpers.Pid }) | Should -BeNullOrEmpty
            Stop-MyVm -Name $volVm -Force -ErrorAction Stop
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $volVm) | Should -BeNullOrEmpty
        }

        It 'Repair-MyVm removes a dead run''s virtiofsd lock file and runtime folder that no record mentions' {
            $qemuPid = Start-RunningVm -Name $volVm
            $helpers = @(Get-MyHvProcess -Needle $volPaths.Marker | Where-Object Program -EQ 'virtiofsd')
            foreach ($helper in $helpers) { Stop-MyHvProcess -ProcessId $helper.Pid }
            Stop-MyHvProcess -ProcessId $qemuPid
            Set-StateLostTrack -Name $volVm
            $locks = @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome)
            $locks | Should -Not -BeNullOrEmpty -Because 'precondition: the killed virtiofsd left its lock file'

            $repair = Repair-MyVm -Name $volVm -ErrorAction Stop

            foreach ($lock in $locks) { $repair.Removed | Should -Contain "helper lock file $lock" }
            $repair.Removed | Should -Contain "directory $($volPaths.RunDir)"
            @($repair.Leftovers) | Should -BeNullOrEmpty
            $repair.Clean | Should -BeTrue
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $volVm) | Should -BeNullOrEmpty
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $volVm
        }

        It 'kill -9 of its virtiofsd: Get-MyVm reports the dead helper; Stop-MyVm leaves no virtiofsd, socket or lock file; Start-MyVm works' {
            $null = Start-RunningVm -Name $volVm
            $helpers = @(Get-MyHvProcess -Needle $volPaths.Marker | Where-Object Program -EQ 'virtiofsd')
            $helpers | Should -Not -BeNullOrEmpty -Because 'precondition: virtiofsd serves the volume'

            foreach ($helper in $helpers) { Stop-MyHvProcess -ProcessId $helper.Pid }
            @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome) | Should -Not -BeNullOrEmpty -Because 'SIGKILL leaves virtiofsd''s lock file behind'

            $info = Get-MyVm -Name $volVm -ErrorAction Stop
            @($info.Problems | Where-Object { $_ -match 'virtiofsd' -and $_ -match 'not running' }) | Should -Not -BeNullOrEmpty -Because 'Get-MyVm says the helper died'
            Stop-MyVm -Name $volVm -Force -ErrorAction Stop
            (Get-MyVm -Name $volVm -ErrorAction Stop).Status | Should -Be 'Stopped'
            @(Get-MyHvProcess -Needle $vmHome | Where-Object Program -EQ 'virtiofsd') | Should -BeNullOrEmpty
            @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome) | Should -BeNullOrEmpty
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $volVm) | Should -BeNullOrEmpty
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $volVm
        }
    }
}
