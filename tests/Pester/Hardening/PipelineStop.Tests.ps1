# Runner: host-exclusive
# Stopping the pipeline (Ctrl+C, PowerShell.Stop(), Stop-Job) at any moment of Start-MyVm rolls
# the attempt back BEFORE the cmdlet returns: no process, socket, TAP device, mount or journal is
# left, and the VM is Failed with the reason 'cancelled'. A stop that comes after the start
# committed (the VM runs; -Wait was only watching the guest boot) leaves a Running VM, as it is.
# Stop-MyVm and Remove-MyVm stopped mid-way leave a VM the next command finds consistent.
#
# The VM has a volume (virtiofsd) and a bridge (a TAP device on txbr0 inside a network namespace
# this suite creates), so every kind of artifact is in play. The module runs in a child pwsh
# inside that namespace; there, each command runs in a [powershell] instance that is stopped at
# one of the ten progress points of a start, which are spread evenly over all of its steps
# (prerequisites, storage, runtime-dir, network, volumes, guest-channel, hypervisor-launch,
# api-ready, commit, the guest wait). What is left is read from /proc, /sys, /proc/net/unix,
# mountinfo and the files themselves right after Invoke() returns, before any other command
# could finish a rollback for it.

BeforeDiscovery {
    $script:moments = @(
        @{ Moment = 'prerequisites'; Pattern = '^Checking prerequisites$'; Expect = 'Failed' }
        @{ Moment = 'storage'; Pattern = '^Step storage$'; Expect = 'Failed' }
        @{ Moment = 'runtime-dir'; Pattern = '^Step runtime-dir$'; Expect = 'Failed' }
        @{ Moment = 'network'; Pattern = '^Step network$'; Expect = 'Failed' }
        @{ Moment = 'volumes'; Pattern = '^Step volumes$'; Expect = 'Failed' }
        @{ Moment = 'guest-channel'; Pattern = '^Step guest-channel$'; Expect = 'Failed' }
        @{ Moment = 'hypervisor-launch'; Pattern = '^Step hypervisor-launch$'; Expect = 'Failed' }
        @{ Moment = 'api-ready'; Pattern = '^Step api-ready$'; Expect = 'Failed' }
        @{ Moment = 'commit'; Pattern = '^Step commit$'; Expect = 'Running' }
        @{ Moment = 'guest-wait'; Pattern = '^Waiting for the guest'; Expect = 'Running' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite   # the KVM probe's own cancellation is proven in AcceleratorProbe.Tests.ps1
    $script:vm = 'ps1'
    $script:netns = $null
    $script:results = $null

    $prerequisites = (Get-Command qemu-system-x86_64 -ErrorAction Ignore) -and (Get-Command ip -ErrorAction Ignore) -and
        ((& id -u) -eq '0') -and (Test-Path /usr/lib/qemu/virtiofsd)
    if (-not $prerequisites) { return }

    $script:netns = New-MyHvTestNamespace -Name ("mhps" + [guid]::NewGuid().ToString('N').Substring(0, 6)) -Bridge txbr0 -Address ''
    $share = New-MyHvTestDir -Prefix 'mhPs'
    # Discovery's data is not visible here: the same moments, for the child.
    $momentList = @(
        @('prerequisites', '^Checking prerequisites$'), @('storage', '^Step storage$'), @('runtime-dir', '^Step runtime-dir$'),
        @('network', '^Step network$'), @('volumes', '^Step volumes$'), @('guest-channel', '^Step guest-channel$'),
        @('hypervisor-launch', '^Step hypervisor-launch$'), @('api-ready', '^Step api-ready$'), @('commit', '^Step commit$'),
        @('guest-wait', '^Waiting for the guest')
    ) | ForEach-Object { @{ Name = $_[0]; Pattern = $_[1] } }

    $run = Invoke-MyHvChild -Netns $script:netns -TimeoutSeconds 600 -Environment @{
        MYHV_HOME = $script:vmHome; MYHV_ACCEL = 'tcg'; HT_VM = $script:vm; HT_SHARE = $share
        HT_MOMENTS = (ConvertTo-Json -InputObject @($momentList) -Compress)
    } -ScriptBlock {
        Initialize-MyHvStopTrigger   # MyHvTests.StopTrigger, for the job below (the child has the kit imported)
        $name = $env:HT_VM
        $homePath = $env:MYHV_HOME
        $null = New-MyVm -Name $name -Network Bridge -Bridge txbr0 -IPAddress 10.77.0.10/24 -Volume @{ Path = $env:HT_SHARE; Tag = 'data' }
        $rs = New-MyHvModuleRunspace

        # What is there right after the command returned, read without any module command.
        function Get-Snapshot {
            $state = Get-MyHvRecordedState -HomePath $homePath -Name $name
            $hvPid = if ($state -and $state.hypervisor) { [int] $state.hypervisor.pid } else { 0 }
            @{
                RecordedStatus = if ($state) { "$($state.status)" } else { '<no state>' }
                RecordedReason = if ($state) { "$($state.reason)" } else { '' }
                Residue        = @(Get-MyHvVmResidue -HomePath $homePath -Name $name)
                Journal        = Test-Path -LiteralPath (Join-Path $homePath "vms/$name/start.journal")
                HypervisorPid  = $hvPid
                PidAlive       = $hvPid -gt 0 -and (Test-MyHvProcessAlive -ProcessId $hvPid)
                VmFolder       = Test-Path -LiteralPath (Join-Path $homePath "vms/$name")
            }
        }
        # The next command's view, and (for a running VM) a -Force stop that must leave nothing.
        function Get-NextView([hashtable] $Entry) {
            $vm = Get-MyVm -Name $name -ErrorAction SilentlyContinue
            $Entry.NextStatus = if ($vm) { "$($vm.Status)" } else { '<gone>' }
            $Entry.NextPid = if ($vm -and $vm.Pid) { [int] $vm.Pid } else { 0 }
            $Entry.NextPidAlive = $Entry.NextPid -gt 0 -and (Test-MyHvProcessAlive -ProcessId $Entry.NextPid)
            $Entry.NextResidue = @(Get-MyHvVmResidue -HomePath $homePath -Name $name)
            if ($vm -and $vm.Status -eq 'Running') {
                Stop-MyVm -Name $name -Force -ErrorAction Stop
                $Entry.ResidueAfterStop = @(Get-MyHvVmResidue -HomePath $homePath -Name $name)
            }
            $Entry
        }

        $out = [ordered]@{}
        foreach ($m in ($env:HT_MOMENTS | ConvertFrom-Json)) {
            $r = Invoke-MyHvStoppedCommand -Runspace $rs -Command Start-MyVm -Parameters @{ Name = $name; Wait = $true; TimeoutSeconds = 120 } -Pattern $m.Pattern
            $entry = Get-Snapshot
            foreach ($p in 'Fired', 'FiredOn', 'Stopped', 'Thrown', 'ElapsedMs', 'ErrorRecords') { $entry[$p] = $r.$p }
            $out[$m.Name] = Get-NextView $entry
        }

        # After all of that, a plain start works. (Each part below records its own failure, so the
        # moments above are still reported one by one.)
        try {
            $started = Start-MyVm -Name $name -Wait -TimeoutSeconds 120 -PassThru -ErrorAction Stop
            $out['final'] = Get-NextView @{ StartStatus = "$($started.Status)" }
        }
        catch { $out['final'] = @{ Error = "$_" }; return $out }

        # Stop-Job during a start (-AsJob): Stop-Job returns once the attempt is rolled back.
        $job = Start-MyVm -Name $name -Wait -TimeoutSeconds 120 -AsJob
        $trigger = [MyHvTests.StopTrigger]::ForJob($job, 'Progress', '^Step (runtime-dir|network|volumes|guest-channel|hypervisor-launch)$')
        $firedInTime = $trigger.FiredEvent.Wait(60000)
        Stop-Job -Job $job
        $entry = Get-Snapshot
        $entry.Fired = $firedInTime
        $entry.FiredOn = $trigger.FiredOn
        $entry.JobState = "$($job.JobStateInfo.State)"
        Remove-Job -Job $job -Force
        $out['job'] = Get-NextView $entry

        # Stop-MyVm stopped while it waits for a guest that cannot power off yet (it has not booted):
        # the VM is running, and recorded so at once.
        Start-MyVm -Name $name -ErrorAction Stop
        $r = Invoke-MyHvStoppedCommand -Runspace $rs -Command Stop-MyVm -Parameters @{ Name = $name; TimeoutSeconds = 60 } -Pattern '^Waiting for the guest to power off'
        $entry = Get-Snapshot
        foreach ($p in 'Fired', 'FiredOn', 'Stopped', 'ElapsedMs') { $entry[$p] = $r.$p }
        $out['stop-guest-wait'] = Get-NextView $entry

        # Stop-MyVm -Force stopped right as it asks QEMU to quit: running, or stopped with nothing left.
        Start-MyVm -Name $name -ErrorAction Stop
        $r = Invoke-MyHvStoppedCommand -Runspace $rs -Command Stop-MyVm -Parameters @{ Name = $name; Force = $true } -Pattern '^Asking the hypervisor to quit'
        $entry = Get-Snapshot
        foreach ($p in 'Fired', 'FiredOn', 'Stopped', 'ElapsedMs') { $entry[$p] = $r.$p }
        $out['stop-quit'] = Get-NextView $entry

        # Remove-MyVm -Force stopped while it stops the VM: the VM is whole, or wholly gone.
        Start-MyVm -Name $name -ErrorAction Stop
        $r = Invoke-MyHvStoppedCommand -Runspace $rs -Command Remove-MyVm -Parameters @{ Name = $name; Force = $true; Verbose = $true } -Stream Verbose -Pattern 'asking the hypervisor to quit'
        $entry = Get-Snapshot
        foreach ($p in 'Fired', 'FiredOn', 'Stopped', 'ElapsedMs') { $entry[$p] = $r.$p }
        $entry.Listed = @(Get-MyVm | ForEach-Object Name) -contains $name
        $out['remove'] = Get-NextView $entry
        $rs.Dispose()
        $out
    }
    $script:results = $run.Result
    $script:childOutput = $run.Output -join "`n"
}

AfterAll {
    Complete-MyHvTestSuite -RemoveHome -HomePath $script:vmHome -Netns $script:netns -NetVm $script:vm
}

Describe 'Pipeline stop during Start-MyVm (a VM with a volume and a bridge)' {
    BeforeEach {
        Skip-UnlessPrerequisite -Name 'root, iproute2, qemu-system-x86_64 and virtiofsd' -Condition ($null -ne $script:netns)
        $script:results | Should -Not -BeNullOrEmpty -Because "the scenario ran to the end in the namespace:`n$script:childOutput"
    }

    It 'a stop right after <Moment> leaves a consistent <Expect> VM, and nothing of a failed attempt, before the cmdlet returns' -ForEach $script:moments {
        $r = $script:results.$Moment
        $r.Fired | Should -BeTrue -Because "the start reached the moment '$Moment'"
        $r.Stopped | Should -BeTrue -Because 'the pipeline ended as stopped'
        $r.Journal | Should -BeFalse -Because 'no start journal is left'
        if ($Expect -eq 'Failed') {
            @($r.Residue) | Should -BeNullOrEmpty -Because 'nothing of the attempt is left when Start-MyVm returns'
            $r.RecordedStatus | Should -Be 'Failed'
            $r.RecordedReason | Should -Match 'cancelled'
            $r.HypervisorPid | Should -Be 0
            $r.NextStatus | Should -Be 'Failed' -Because 'the next command sees the same VM'
            @($r.NextResidue) | Should -BeNullOrEmpty
        }
        else {
            # After the commit the start has happened: the stop ends only the wait for the guest.
            $r.RecordedStatus | Should -Be 'Running'
            $r.PidAlive | Should -BeTrue -Because 'the recorded hypervisor is really running'
            $r.NextStatus | Should -Be 'Running'
            $r.NextPid | Should -Be $r.HypervisorPid
            @($r.ResidueAfterStop) | Should -BeNullOrEmpty -Because 'the VM stops cleanly afterwards'
        }
    }

    It 'a plain start works after all the stopped ones' {
        $script:results.final.PSObject.Properties['Error'] | Should -BeNullOrEmpty -Because "$($script:results.final.PSObject.Properties['Error'].Value)"
        $script:results.final.StartStatus | Should -Be 'Running'
        $script:results.final.NextStatus | Should -Be 'Running'
        $script:results.final.NextPidAlive | Should -BeTrue
        @($script:results.final.ResidueAfterStop) | Should -BeNullOrEmpty
    }

    It 'Stop-Job during Start-MyVm -AsJob returns once the attempt is rolled back' {
        $r = $script:results.job
        $r.Fired | Should -BeTrue
        $r.JobState | Should -Be 'Stopped'
        $r.Journal | Should -BeFalse
        if ($r.RecordedStatus -eq 'Running') {
            # The job passed its commit before Stop-Job landed: a consistent running VM.
            $r.PidAlive | Should -BeTrue
            $r.NextStatus | Should -Be 'Running'
            @($r.ResidueAfterStop) | Should -BeNullOrEmpty
        }
        else {
            $r.RecordedStatus | Should -Be 'Failed'
            $r.RecordedReason | Should -Match 'cancelled'
            @($r.Residue) | Should -BeNullOrEmpty -Because 'Stop-Job returned after the rollback'
        }
    }
}

Describe 'Pipeline stop during Stop-MyVm and Remove-MyVm' {
    BeforeEach {
        Skip-UnlessPrerequisite -Name 'root, iproute2, qemu-system-x86_64 and virtiofsd' -Condition ($null -ne $script:netns)
        $script:results | Should -Not -BeNullOrEmpty -Because "the scenario ran to the end in the namespace:`n$script:childOutput"
    }

    It 'Stop-MyVm stopped while waiting for the guest leaves a VM recorded Running with its live hypervisor' {
        $r = $script:results.'stop-guest-wait'
        $r.Fired | Should -BeTrue
        $r.Stopped | Should -BeTrue
        $r.RecordedStatus | Should -Be 'Running' -Because 'the abandoned stop put the record back at once (not Stopping)'
        $r.PidAlive | Should -BeTrue
        $r.NextStatus | Should -Be 'Running'
        $r.NextPid | Should -Be $r.HypervisorPid
        @($r.ResidueAfterStop) | Should -BeNullOrEmpty
    }

    It 'Stop-MyVm -Force stopped as it asks QEMU to quit leaves a consistent VM' {
        $r = $script:results.'stop-quit'
        $r.Fired | Should -BeTrue
        $r.NextStatus | Should -BeIn @('Running', 'Stopped')
        if ($r.NextStatus -eq 'Running') { $r.NextPidAlive | Should -BeTrue; @($r.ResidueAfterStop) | Should -BeNullOrEmpty }
        else { @($r.NextResidue) | Should -BeNullOrEmpty -Because 'a stopped VM has nothing of its run left' }
    }

    It 'Remove-MyVm -Force stopped while stopping the VM leaves it whole or wholly gone' {
        $r = $script:results.remove
        $r.Fired | Should -BeTrue
        if ($r.VmFolder) {
            $r.Listed | Should -BeTrue -Because 'a VM whose folder exists is listed'
            $r.NextStatus | Should -BeIn @('Running', 'Stopped')
            if ($r.NextStatus -eq 'Running') { $r.NextPidAlive | Should -BeTrue; @($r.ResidueAfterStop) | Should -BeNullOrEmpty }
            else { @($r.NextResidue) | Should -BeNullOrEmpty }
        }
        else {
            $r.Listed | Should -BeFalse
            $r.NextStatus | Should -Be '<gone>'
            @($r.NextResidue) | Should -BeNullOrEmpty -Because 'a removed VM leaves nothing'
        }
    }
}
