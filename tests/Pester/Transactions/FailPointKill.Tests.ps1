# Runner: host-exclusive
# Issue 4, acceptance 2 (crash recovery): every start fail point with the action 'kill'. Start-MyVm
# runs in a child pwsh that sends itself SIGKILL right after the step's artifacts exist, so nothing
# in it cleans up; its journal is all that is left of the plan. The next Get-MyVm of that VM (in
# this process) rolls the attempt back: the VM is reported not running, no QEMU/virtiofsd, socket,
# journal, runtime folder, lock file or TAP device is left, the overlay is the same file, and
# Start-MyVm then succeeds. Kills at hypervisor-launch, api-ready and commit leave QEMU running
# (daemonized): the recovery must end it. start.network runs in a network namespace of its own.

BeforeDiscovery {
    $script:plainSteps = @('storage', 'runtime-dir', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit')
    $script:volumeSteps = @('volumes', 'guest-channel', 'guest-agent', 'api-ready', 'commit')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite   # children inherit it too: this suite does not test the KVM probe
    $script:sigkill = 137     # 128 + SIGKILL, as the dotnet host and the shell report a child killed by signal 9

    function Invoke-KilledStart {
        # Start-MyVm in a child pwsh with start.<Step>=kill; returns the child's outcome.
        param([string] $Name, [string] $Step, [string] $Netns)
        Invoke-MyHvChild -Netns $Netns -Environment @{ MYHV_HOME = $vmHome; MYHV_FAILPOINTS = "start.$Step=kill"; MYHV_ACCEL = 'tcg'; TX_VM = $Name } -ScriptBlock {
            Start-MyVm -Name $env:TX_VM -ErrorAction Stop
            @{ Returned = $true }   # reaching this means the fail point did not fire
        }
    }

    function Assert-DiedBySigkill {
        param($Child)
        $Child.Result | Should -BeNullOrEmpty -Because "the child must die at the fail point, not finish: $($Child.Output -join "`n")"
        $Child.ExitCode | Should -Be $sigkill -Because "the child sent itself SIGKILL: $($Child.Output -join "`n")"
    }

    function Get-JournalStep {
        # The step of the last record the killed attempt wrote (what the recovery will report).
        param([string] $Journal)
        $records = @(Get-Content -LiteralPath $Journal | ForEach-Object { try { $_ | ConvertFrom-Json } catch { } } | Where-Object { $_.type -eq 'artifact' })
        $records.Count | Should -BeGreaterThan 0 -Because 'the killed attempt journaled what it created'
        $records[-1].record.step
    }

    function Assert-RecoveredByGet {
        # The next Get-MyVm: not running, rolled back (narrated), and nothing left of the attempt.
        param([string] $Name, [string] $Step, [int[]] $LivePids = @())
        $out = @(Get-MyVm -Name $Name -Verbose -ErrorAction Stop 4>&1)
        $vm = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $verbose = Get-MyHvVerboseLine -Output $out
        $vm | Should -HaveCount 1
        "$($vm[0].Status)" | Should -BeIn @('Failed', 'Stopped')
        $vm[0].Pid | Should -BeNullOrEmpty
        $vm[0].StatusReason | Should -Match "interrupted at step '$([regex]::Escape($Step))'" -Because 'the reason names the step the killed start died in'
        @($verbose | Where-Object { $_ -match 'rolling back a start interrupted' }) | Should -Not -BeNullOrEmpty -Because '-Verbose narrates the recovery'
        @($verbose | Where-Object { $_ -match '^Undo ' -and $_ -notmatch ': (removed|already gone)$' }) | Should -BeNullOrEmpty -Because 'no undo failed'
        foreach ($p in $LivePids) {
            Test-MyHvProcessAlive -ProcessId $p | Should -BeFalse -Because "pid $p ran for the killed attempt and the recovery ended it"
            @($verbose | Where-Object { $_ -match "^Undo \S+ pid ${p}: removed$" }) | Should -Not -BeNullOrEmpty -Because "the undo of pid $p is narrated"
        }
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $Name) | Should -BeNullOrEmpty
        # A second look changes nothing: the recovery happened once and is complete.
        (Get-MyVm -Name $Name -ErrorAction Stop).Status | Should -Be $vm[0].Status
    }
}

AfterAll {
    Complete-MyHvTestSuite -RemoveHome -HomePath $vmHome -Netns $script:netns -NetVm 'kpnet'   # the bridged VM from inside its namespace, then all
}

Describe 'Start fail points with action kill (the process running Start-MyVm dies)' {

    Context 'a VM with user networking whose overlay holds data from an earlier run' {
        BeforeAll {
            $script:plain = 'kpe'
            $null = New-MyHvTestVm -Name $plain -RanOnce   # its overlay holds data from an earlier run
        }

        It 'start.<_>=kill: the next Get-MyVm reports it not running and leaves nothing; Start-MyVm then works' -ForEach $plainSteps {
            $step = $_
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $plain
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $plain
            Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name $plain -ByteIdentical:(Test-MyHvBeforeLaunch -Step $step) -ScriptBlock {
                param($pin)
                $child = Invoke-KilledStart -Name $plain -Step $step

                Assert-DiedBySigkill -Child $child
                # Evidence that it died inside the transaction, with its artifacts in place.
                $paths.Journal | Should -Exist -Because 'the attempt was cut short, so its journal is still there'
                $live = @()
                if ($step -in 'hypervisor-launch', 'api-ready', 'commit') {
                    $qemu = @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'qemu-system-x86_64')
                    $qemu | Should -HaveCount 1 -Because 'QEMU (daemonized) outlives the killed cmdlet'
                    $live = @($qemu.Pid)
                }
                if ($step -ne 'storage') { $paths.RunDir | Should -Exist }
                if ($step -eq 'commit') {
                    (Get-Content -Raw -LiteralPath $paths.State | ConvertFrom-Json).status | Should -Be 'Running' -Because 'the state was committed just before the kill'
                }

                Assert-RecoveredByGet -Name $plain -Step $step -LivePids $live
            }
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $plain
        }

        It 'Repair-MyVm recovers a start killed at hypervisor-launch and reports what it removed' {
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $plain
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $plain
            $child = Invoke-KilledStart -Name $plain -Step 'hypervisor-launch'
            Assert-DiedBySigkill -Child $child
            $qemu = @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'qemu-system-x86_64')
            $qemu | Should -HaveCount 1 -Because 'precondition: QEMU outlived the killed cmdlet'

            $repair = Repair-MyVm -Name $plain -ErrorAction Stop

            $repair.Name | Should -Be $plain
            "$($repair.Status)" | Should -BeIn @('Failed', 'Stopped')
            (Get-MyVm -Name $plain -ErrorAction Stop).StatusReason | Should -Match "interrupted at step 'hypervisor-launch'"
            @($repair.Leftovers) | Should -BeNullOrEmpty
            $repair.Clean | Should -BeTrue
            @($repair.Removed | Where-Object { $_ -match "qemu-system-x86_64 pid $($qemu[0].Pid)$" }) | Should -HaveCount 1 -Because 'Repair-MyVm reports the QEMU it ended'
            $repair.Removed | Should -Contain "directory $($paths.RunDir)"
            Test-MyHvProcessAlive -ProcessId $qemu[0].Pid | Should -BeFalse
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $plain) | Should -BeNullOrEmpty
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $plain
        }
    }

    Context 'the first command after the kill is Start-MyVm itself' {
        It 'Start-MyVm after a start killed at api-ready rolls that attempt back first (ending its QEMU), then starts one fresh QEMU' {
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $plain
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $plain
            Assert-DiedBySigkill -Child (Invoke-KilledStart -Name $plain -Step 'api-ready')
            $orphan = @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'qemu-system-x86_64')
            $orphan | Should -HaveCount 1 -Because 'precondition: the killed attempt''s QEMU still runs'

            $out = @(Start-MyVm -Name $plain -PassThru -Verbose -ErrorAction Stop 4>&1)

            $verbose = Get-MyHvVerboseLine -Output $out
            @($verbose | Where-Object { $_ -match "rolling back a start interrupted at step 'api-ready'" }) | Should -HaveCount 1
            @($verbose | Where-Object { $_ -match "^Undo \S+ pid $($orphan[0].Pid): removed$" }) | Should -HaveCount 1
            $started = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            $started[0].Status | Should -Be 'Running'
            $started[0].Pid | Should -Not -Be $orphan[0].Pid
            Test-MyHvProcessAlive -ProcessId $orphan[0].Pid | Should -BeFalse
            @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'qemu-system-x86_64').Pid | Should -Be $started[0].Pid
            $paths.Journal | Should -Not -Exist
            Stop-MyVm -Name $plain -Force -ErrorAction Stop
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $plain) | Should -BeNullOrEmpty
        }
    }

    Context 'a start journal whose owner is still alive' {
        It 'is left alone while its owner holds the VM''s lock (Get-MyVm reports busy, Start-MyVm gives VmBusy), and rolled back once the owner is SIGKILLed' {
            $name = 'kplock'
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $name
            $null = New-MyVm -Name $name -ErrorAction Stop
            $work = Join-Path $vmHome 'owner'
            $null = New-Item -ItemType Directory -Path $work -Force
            $ready = Join-Path $work 'ready'
            # The owner: takes the VM's lock as every command does, journals a runtime folder, makes it, and waits.
            $owner = Start-MyHvChild -Environment @{ MYHV_HOME = $vmHome; TX_VM = $name; TX_READY = $ready } -ScriptBlock {
                $paths = Get-MyHvVmPath -HomePath $env:MYHV_HOME -Name $env:TX_VM
                $lock = [MyHypervisor.Core.Storage.VmLock]::Acquire((Join-Path $env:MYHV_HOME "locks/$($env:TX_VM).lock"), $env:TX_VM,
                    [TimeSpan]::FromSeconds(30), [System.Threading.CancellationToken]::None)
                $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new([MyHypervisor.Core.Ledger.ArtifactJournal]::new($paths.Journal), $null)
                $tx.BeginStep('runtime-dir')
                $null = $tx.Intend([MyHypervisor.Core.Ledger.ArtifactRecord] @{ Kind = 'Directory'; Step = 'runtime-dir'; Path = $paths.RunDir })
                $null = New-Item -ItemType Directory -Path $paths.RunDir -Force
                Set-Content -LiteralPath $env:TX_READY -Value $PID
                Start-Sleep -Seconds 300
                $lock.Dispose()
            }
            try {
                # The pid is in the file once it has content (Set-Content creates the file first).
                Wait-MyHvCondition -TimeoutSeconds 120 -Because 'the owner to journal its attempt' -Condition { (Test-Path -LiteralPath $ready) -and "$(Get-Content -LiteralPath $ready -ErrorAction Ignore)".Trim() }.GetNewClosure()
                $ownerPid = [int] (Get-Content -LiteralPath $ready)
                Test-MyHvProcessAlive -ProcessId $ownerPid | Should -BeTrue

                $info = Get-MyVm -Name $name -ErrorAction Stop
                @($info.Problems | Where-Object { $_ -match 'busy' }) | Should -Not -BeNullOrEmpty -Because 'a VM another command works on is shown as recorded, with a note'
                $startErrors = $null
                Start-MyVm -Name $name -ErrorAction SilentlyContinue -ErrorVariable startErrors
                @($startErrors) | Should -HaveCount 1
                $startErrors[0].FullyQualifiedErrorId | Should -BeLike 'VmBusy,*'
                $paths.Journal | Should -Exist -Because 'a live owner''s journal is never rolled back'
                $paths.RunDir | Should -Exist

                Stop-MyHvProcess -ProcessId $ownerPid

                $out = @(Get-MyVm -Name $name -Verbose -ErrorAction Stop 4>&1)
                $vm = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
                "$($vm[0].Status)" | Should -Be 'Failed'
                $vm[0].StatusReason | Should -Match "interrupted at step 'runtime-dir'"
                Get-MyHvVerboseLine -Output $out | Should -Contain "Undo directory $($paths.RunDir): removed"
                $paths.Journal | Should -Not -Exist
                $paths.RunDir | Should -Not -Exist
                @(Get-MyHvVmResidue -HomePath $vmHome -Name $name) | Should -BeNullOrEmpty
            }
            finally {
                if (-not $owner.HasExited) { $owner.Kill($true) }
                $null = $owner.WaitForExit(10000)
                Remove-Item -LiteralPath $work, $owner.ScriptFile -Recurse -Force -ErrorAction SilentlyContinue
            }
        }
    }

    Context 'a VM that never ran (no overlay yet)' {
        It 'start.storage=kill: the recovery removes the overlay the killed attempt created' {
            $name = 'kpnew'
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $name
            $null = New-MyVm -Name $name -ErrorAction Stop
            $paths.Overlay | Should -Not -Exist -Because 'precondition: a new VM has no overlay'

            Assert-DiedBySigkill -Child (Invoke-KilledStart -Name $name -Step 'storage')
            $paths.Overlay | Should -Exist -Because 'the killed attempt had created the overlay'
            Get-JournalStep -Journal $paths.Journal | Should -Be 'storage'

            Assert-RecoveredByGet -Name $name -Step 'storage'
            $paths.Overlay | Should -Not -Exist -Because 'the overlay was this attempt''s own, so its rollback removes it'
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $name
        }
    }

    Context 'a VM with two volumes (one read-only), served by virtiofsd' {
        BeforeAll {
            $script:volVm = 'kpvol'
            $script:shareRw = Join-Path $vmHome 'share-rw'
            $script:shareRo = Join-Path $vmHome 'share-ro'
            $null = New-Item -ItemType Directory -Path $shareRw, $shareRo -Force
            $null = New-MyHvTestVm -Name $volVm -Parameters @{ Volume = @{ Path = $shareRw; Tag = 'data' }, @{ Path = $shareRo; Tag = 'ro'; ReadOnly = $true } } -RanOnce   # its overlay holds data from an earlier run
        }

        It 'start.<_>=kill: the recovery ends every virtiofsd (and QEMU) and removes sockets and /run/virtiofsd lock files' -ForEach $volumeSteps {
            $step = $_
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $volVm
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $volVm
            Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name $volVm -ByteIdentical:(Test-MyHvBeforeLaunch -Step $step) -ScriptBlock {
                param($pin)
                Assert-DiedBySigkill -Child (Invoke-KilledStart -Name $volVm -Step $step)

                $paths.Journal | Should -Exist
                $helpers = @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'virtiofsd')
                $live = @()
                if ($step -in 'volumes', 'guest-channel', 'guest-agent') {
                    # Before QEMU connects, every virtiofsd surely still runs: the recovery must end them.
                    @($helpers.CommandLine | ForEach-Object { ($_ -split '\s+' | Where-Object { $_ -like '--socket-path=*' }) } | Sort-Object -Unique) |
                        Should -HaveCount 2 -Because 'each volume has its virtiofsd, alive after the cmdlet died'
                    $live = @($helpers.Pid)
                }
                else {
                    $qemu = @(Get-MyHvProcess -Needle $paths.Marker | Where-Object Program -EQ 'qemu-system-x86_64')
                    $qemu | Should -HaveCount 1 -Because 'QEMU (daemonized) outlives the killed cmdlet'
                    $live = @($qemu.Pid)
                }
                @(Get-MyHvVirtiofsdLockFile -HomePath $vmHome) | Should -Not -BeNullOrEmpty -Because 'the killed attempt left virtiofsd lock files'

                Assert-RecoveredByGet -Name $volVm -Step $step -LivePids $live
                Assert-MyHvNoVirtiofsd -HomePath $vmHome
            }
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $volVm
        }
    }

    Context 'a bridged VM, run by the module inside a network namespace' {
        BeforeAll {
            $script:netns = "mhtxk$PID"
            $script:netVm = 'kpnet'
            # The namespace made; the VM created, run once (the overlay exists from then on) and stopped, all inside it.
            $script:netTap = Initialize-MyHvBridgedVm -HomePath $vmHome -Netns $netns -Name $netVm -IPAddress 10.77.0.3/24 -CreateNamespace
        }

        It 'start.network=kill: the next Get-MyVm (in the namespace) deletes the TAP device and leaves nothing; Start-MyVm then works' {
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $netVm
            Get-MyHvNamespaceDevice -Prefix '' -Namespace $netns | Should -Not -Contain $netTap -Because 'precondition: no TAP device before the attempt'
            $pin = New-MyHvOverlayPin -HomePath $vmHome -Name $netVm
            try {
                Assert-DiedBySigkill -Child (Invoke-KilledStart -Name $netVm -Step 'network' -Netns $netns)
                Get-MyHvNamespaceDevice -Prefix '' -Namespace $netns | Should -Contain $netTap -Because 'the killed attempt had created the TAP device'
                $paths.Journal | Should -Exist
                Get-JournalStep -Journal $paths.Journal | Should -Be 'network'

                $recovered = Invoke-MyHvChild -Netns $netns -Environment @{ MYHV_HOME = $vmHome; TX_VM = $netVm } -ScriptBlock {
                    $vm = Get-MyVm -Name $env:TX_VM
                    $after = @{
                        Status  = "$($vm.Status)"; Pid = $vm.Pid; Reason = $vm.StatusReason
                        Devices = @(Get-ChildItem -LiteralPath /sys/class/net | ForEach-Object Name)
                        Residue = @(Get-MyHvVmResidue -HomePath $env:MYHV_HOME -Name $env:TX_VM)
                        Overlay = Get-MyHvFileIdentity -Path (Get-MyHvVmPath -HomePath $env:MYHV_HOME -Name $env:TX_VM).Overlay
                        Hash    = (Get-FileHash -LiteralPath (Get-MyHvVmPath -HomePath $env:MYHV_HOME -Name $env:TX_VM).Overlay -Algorithm SHA256).Hash
                    }
                    $started = Start-MyVm -Name $env:TX_VM -PassThru -ErrorAction Stop
                    $after.Started = "$($started.Status)"
                    $after.TapUp = Test-Path "/sys/class/net/$($started.TapDevice)"
                    Stop-MyVm -Name $env:TX_VM -Force -ErrorAction Stop
                    $after.AfterStop = "$((Get-MyVm -Name $env:TX_VM).Status)"
                    $after.ResidueAfterStop = @(Get-MyHvVmResidue -HomePath $env:MYHV_HOME -Name $env:TX_VM)
                    $after
                }
                $r = $recovered.Result
                $r | Should -Not -BeNullOrEmpty -Because ($recovered.Output -join "`n")
                $r.Status | Should -BeIn @('Failed', 'Stopped')
                $r.Pid | Should -BeNullOrEmpty
                $r.Reason | Should -Match "interrupted at step 'network'" 
                @($r.Devices) | Should -Not -Contain $netTap
                @($r.Residue) | Should -BeNullOrEmpty
                # The overlay as the recovery left it (before the next start opened it): the same, untouched file.
                $r.Overlay.Inode | Should -Be $pin.Inode
                $r.Overlay.Links | Should -Be 2
                $r.Hash | Should -Be $pin.Hash
                $r.Started | Should -Be 'Running'
                $r.TapUp | Should -BeTrue
                $r.AfterStop | Should -Be 'Stopped'
                @($r.ResidueAfterStop) | Should -BeNullOrEmpty
            }
            finally { Remove-MyHvOverlayPin -PinInfo $pin }
            Get-MyHvNamespaceDevice -Prefix '' -Namespace $netns | Should -Not -Contain $netTap
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $netVm -SkipNetDevices) | Should -BeNullOrEmpty
        }
    }
}
