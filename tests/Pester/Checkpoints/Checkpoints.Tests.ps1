# Checkpoints of a real tiny guest: a memory checkpoint of a running VM, restored later, brings
# back a file written before it and not one written after, and the guest runs on without booting
# (no boot line on the console, its clock back where it was saved); a paused VM stays paused while
# checkpointed; a stopped VM gets a disk checkpoint whose restore brings its disk back; a VM with
# virtiofs volumes is refused a memory checkpoint with InvalidVmSpec; hostile checkpoint names are
# refused before anything is made; listing, wildcards, the pipeline, removal, tab completion and
# the table view (deserialized too).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'CheckpointSupport.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:disk = Join-Path $vmHome 'vms/cp/disk.qcow2'

    function Invoke-Guest([string] $Command) {
        $r = Invoke-MyVmCommand -Name 'cp' -Command $Command -TimeoutSeconds 120 -ErrorAction Stop
        $r.ExitCode | Should -Be 0 -Because "the guest ran: $Command ($($r.StdErr))"
        $r.StdOut.TrimEnd()
    }

    function Get-Uptime { [double] ((Invoke-Guest 'cat /proc/uptime').Split(' ')[0]) }
}

AfterAll {
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    Assert-MyHvNoLeftovers -Home $script:vmHome
}

Describe 'A memory checkpoint of a running guest' {
    BeforeAll {
        $null = New-MyVm -Name 'cp' -Cpus 1 -MemoryMiB 128 -ErrorAction Stop
    }

    It 'is taken while the guest runs on, with its memory state' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $vm = Start-MyVm -Name 'cp' -Wait -TimeoutSeconds 180 -PassThru -ErrorAction Stop
        $null = Invoke-Guest 'echo before > /data/before.txt; sync'
        $script:uptimeAtCheckpoint = Get-Uptime
        $cp = Checkpoint-MyVm -Name 'cp' -CheckpointName 'one' -ErrorAction Stop
        $cp.VmName | Should -Be 'cp'
        $cp.CheckpointName | Should -Be 'one'
        $cp.Kind | Should -Be 'Memory'
        $cp.MemoryStateBytes | Should -BeGreaterThan 1MB
        $after = Get-MyVm -Name 'cp'
        $after.Status | Should -Be 'Running'
        $after.Pid | Should -Be $vm.Pid
        # The guest's clock moves on by at least 8 s after the checkpoint.
        $null = Invoke-Guest 'sleep 8; echo after > /data/after.txt; sync'
        $script:uptimeAfter = Get-Uptime
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('one')
    }

    It 'is not restored over a running VM without -Force' {
        $pidBefore = (Get-MyVm -Name 'cp').Pid
        $err = $null
        Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'VmAlreadyRunning,MyHypervisor.PowerShell.Commands.RestoreMyVmCheckpointCommand'
        $err[0].Exception.Message | Should -BeLike '*-Force*'
        (Get-MyVm -Name 'cp').Pid | Should -Be $pidBefore
        Invoke-Guest 'cat /data/after.txt' | Should -Be 'after'
    }

    It 'restored with -Force, brings back the file written before it and not the one after, without a boot' {
        $old = (Get-MyVm -Name 'cp').Pid
        $vm = Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -Force -Wait -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $vm.Pid | Should -Not -Be $old
        Invoke-Guest 'ls /data/*.txt' | Should -Be '/data/before.txt'
        # Its clock was saved with it: it resumed at the checkpoint's uptime, not a new boot's nor the later one.
        $uptime = Get-Uptime
        $uptime | Should -BeGreaterOrEqual $uptimeAtCheckpoint
        $uptime | Should -BeLessThan $uptimeAfter
        # The new run's console shows no kernel boot and no readiness line: the guest did not boot.
        $console = Read-MyHvConsoleText -HomePath $vmHome -Name 'cp'
        $console | Should -Not -Match 'Linux version|myhv-guest: ready'
        # The restore's undo point is gone; the checkpoint stays for another restore.
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('one')
        (Get-MyVm -Name 'cp').Status | Should -Be 'Running'
    }

    It 'of a paused VM leaves it paused; its restore runs the guest again' {
        $null = Suspend-MyVm -Name 'cp' -ErrorAction Stop
        $cp = Checkpoint-MyVm -Name 'cp' -CheckpointName 'paused' -ErrorAction Stop
        $cp.Kind | Should -Be 'Memory'
        (Get-MyVm -Name 'cp').Status | Should -Be 'Paused'
        (Invoke-MyHvQmp -HomePath $vmHome -Name 'cp' -Command 'query-status').status | Should -Be 'paused'
        $vm = Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'paused' -Force -Wait -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        (Invoke-MyHvQmp -HomePath $vmHome -Name 'cp' -Command 'query-status').status | Should -Be 'running'
        (Get-MyVm -Name 'cp').Status | Should -Be 'Running'
    }

    It 'is listed, filtered, piped and removed' {
        @(Get-MyVmCheckpoint -Name 'cp' | ForEach-Object CheckpointName) | Should -Be @('one', 'paused')
        @(Get-MyVmCheckpoint -Name 'c*' -CheckpointName 'p*' | ForEach-Object CheckpointName) | Should -Be @('paused')
        @(Get-MyVm -Name 'cp' | Get-MyVmCheckpoint | ForEach-Object VmName) | Should -Be @('cp', 'cp')
        Get-MyVmCheckpoint -Name 'cp' -CheckpointName 'paused' | Remove-MyVmCheckpoint -ErrorAction Stop
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('one')
        $err = $null
        Get-MyVmCheckpoint -Name 'cp' -CheckpointName 'paused' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.GetMyVmCheckpointCommand'
        (Get-MyVm -Name 'cp').Status | Should -Be 'Running'
    }

    It 'completes checkpoint names and shows them in a table view, deserialized too' {
        $line = 'Restore-MyVmCheckpoint -Name cp -CheckpointName o'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($completion.CompletionMatches.CompletionText) | Should -Be @('one')
        $table = Get-MyVmCheckpoint -Name 'cp' | Out-String -Width 120
        $table | Should -Match 'VmName\s+CheckpointName\s+Kind\s+CreatedAt \(UTC\)\s+GuestClock\s+Memory'
        $table | Should -Match 'cp\s+one\s+Memory\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d\d:\d\d:\d\d\s+\d'
        $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-MyVmCheckpoint -Name 'cp')))
        $copy.pstypenames[0] | Should -Be 'Deserialized.MyHypervisor.Core.Checkpoints.CheckpointInfo'
        ($copy | Out-String -Width 120) | Should -Be $table
    }
}

Describe 'A disk checkpoint of a stopped VM' {
    It 'is taken of the disk only, and its restore brings the disk back and leaves the VM stopped' {
        $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop
        $cp = Checkpoint-MyVm -Name 'cp' -CheckpointName 'cold' -ErrorAction Stop
        $cp.Kind | Should -Be 'Disk'
        $cp.MemoryStateBytes | Should -Be 0
        $copy = Join-Path $TestDrive 'cold.qcow2'
        Copy-Item -LiteralPath $disk -Destination $copy
        # A stopped VM resumes a memory checkpoint without -Force; the guest then changes its disk.
        $vm = Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -Wait -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $null = Invoke-Guest 'echo later > /data/later.txt; sync'
        $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop
        Test-CpSameDiskContent -Left $copy -Right $disk | Should -BeFalse
        $vm = Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'cold' -PassThru -ErrorAction Stop
        $vm.Status | Should -Be 'Stopped'
        Test-CpSameDiskContent -Left $copy -Right $disk | Should -BeTrue
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('cold', 'one')
    }

    It 'refuses hostile names with InvalidVmSpec before anything is made' {
        $before = Get-CpSnapshotName -HomePath $vmHome -Name 'cp'
        $names = @('a,b', "a`nb", "a`rb", "a`0b", '..', 'a..b', '../x', '/etc/passwd', '-x', '.hidden', 'a b', ' a', 'a;b', 'a=b',
            '*', '2', '0042', 'myhv-undo-1', 'MYHV-x', ('x' * 65), 'ünï', '')
        foreach ($name in $names) {
            foreach ($command in 'Checkpoint-MyVm', 'Restore-MyVmCheckpoint', 'Remove-MyVmCheckpoint') {
                if ($command -ne 'Checkpoint-MyVm' -and $name -eq '*') { continue }   # a wildcard there is a pattern
                $err = $null
                & $command -Name 'cp' -CheckpointName $name -ErrorVariable err -ErrorAction SilentlyContinue
                @($err).Count | Should -Be 1 -Because "$command refuses '$name'"
                $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*' -Because "$command refuses '$name'"
            }
        }
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be $before
        $err = $null
        Checkpoint-MyVm -Name 'cp' -CheckpointName 'cold' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].Exception.Message | Should -BeLike "*already has a checkpoint named 'cold'*"
    }

    It 'of a VM given a virtiofs volume since, cannot resume a memory checkpoint (InvalidVmSpec)' {
        $share = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'share') -Force
        $null = Set-MyVm -Name 'cp' -AddVolume @{ Path = $share.FullName; Tag = 'share' } -ErrorAction Stop
        try {
            $err = $null
            Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.RestoreMyVmCheckpointCommand'
            $err[0].Exception.Message | Should -BeLike '*virtiofs*not migratable*'
            (Get-MyVm -Name 'cp').Status | Should -Be 'Stopped'
            # A disk checkpoint of the stopped VM is allowed.
            (Checkpoint-MyVm -Name 'cp' -CheckpointName 'with-share' -ErrorAction Stop).Kind | Should -Be 'Disk'
        }
        finally { $null = Set-MyVm -Name 'cp' -RemoveVolume 'share' -ErrorAction Stop }
    }
}

Describe 'A running VM with virtiofs volumes' {
    It 'is refused a memory checkpoint with a clear InvalidVmSpec reason, and nothing is made' {
        Skip-UnlessPrerequisite -Name 'virtiofsd' -Condition { (Test-MyVmHost | Where-Object Check -EQ 'Virtiofsd').Ok }
        $share = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'fsshare') -Force
        $null = New-MyVm -Name 'fs' -Cpus 1 -MemoryMiB 128 -Volume @{ Path = $share.FullName; Tag = 'data' } -ErrorAction Stop
        $null = Start-MyVm -Name 'fs' -ErrorAction Stop
        $err = $null
        Checkpoint-MyVm -Name 'fs' -CheckpointName 'x' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.CheckpointMyVmCommand'
        $err[0].Exception.Message | Should -BeLike '*virtiofs volumes (data)*not migratable*Stop the VM*disk-only*'
        Get-CpSnapshotName -HomePath $vmHome -Name 'fs' | Should -BeNullOrEmpty
        (Get-MyVm -Name 'fs').Status | Should -Be 'Running'
        $null = Stop-MyVm -Name 'fs' -Force -ErrorAction Stop
        (Checkpoint-MyVm -Name 'fs' -CheckpointName 'x' -ErrorAction Stop).Kind | Should -Be 'Disk'
    }
}
