# Checkpoint and restore as transactions, on real QEMU: every fail point of Checkpoint-MyVm
# (checkpoint.prepare, checkpoint.save; on a running VM through QMP, on a stopped one through
# qemu-img) and of Restore-MyVmCheckpoint (a memory checkpoint: restore.storage ... restore.commit,
# the start's steps; a disk checkpoint: restore.storage, restore.commit), each with error and with
# kill, leaves the VM as it was: the same status and QEMU process, the same snapshots in its disk
# (as qemu-img lists them, the module's undo points included), the same files (a memory
# checkpoint's record included), the same definition (a memory restore puts back the settings its
# checkpoint was taken with, here another memory size, from its storage step on), the same disk
# content, and nothing left behind. One prepared VM serves each operation's cases.

BeforeDiscovery {
    # A stopped VM's checkpoint goes through qemu-img instead of QMP from its save on; a kill at
    # prepare (nothing made yet) is the same in both modes and is run once.
    $script:checkpointCases = foreach ($mode in 'running', 'stopped') {
        foreach ($step in 'prepare', 'save') {
            foreach ($action in 'error', 'kill') { if ($mode -eq 'running' -or $step -ne 'prepare' -or $action -ne 'kill') { @{ Mode = $mode; Step = $step; Action = $action } } }
        }
    }
    # The steps a start of this VM (user networking, no volumes, no first-boot seed) runs.
    $script:memoryRestoreCases = foreach ($step in 'storage', 'runtime-dir', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit') {
        foreach ($action in 'error', 'kill') { @{ Step = $step; Action = $action } }
    }
    $script:diskRestoreCases = foreach ($step in 'storage', 'commit') { foreach ($action in 'error', 'kill') { @{ Step = $step; Action = $action } } }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'CheckpointSupport.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:disk = Join-Path $vmHome 'vms/fp/disk.qcow2'
    $script:definitionFile = Join-Path $vmHome 'vms/fp/definition.json'

    function Invoke-Killed([scriptblock] $ScriptBlock, [string] $FailPoint) {
        $run = Invoke-MyHvChild -ScriptBlock $ScriptBlock -Environment @{ MYHV_HOME = $vmHome; MYHV_FAILPOINTS = "$FailPoint=kill"; MYHV_ACCEL = 'tcg' }
        $run.ExitCode | Should -Be 137 -Because "the fail point kills the process (output: $($run.Output -join ' | '))"
        $run.Result | Should -BeNullOrEmpty
    }

    function Invoke-Failing([scriptblock] $ScriptBlock, [string] $FailPoint) {
        $env:MYHV_FAILPOINTS = "$FailPoint=error"
        try { $err = @(& $ScriptBlock 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) }
        finally { $env:MYHV_FAILPOINTS = $null }
        @($err).Count | Should -Be 1
        $err[0].Exception.Message | Should -BeLike "*failed at step*fail point '$FailPoint'*"
        $err[0]
    }

    function Assert-RestoreRolledBack([string] $Step, [string] $Action, [string] $Checkpoint, [string] $ErrorId) {
        # The stopped VM as it was, its definition and its disk's content as before the cases ($copy), nothing left behind.
        $before = Get-CpPicture -HomePath $vmHome -Name 'fp'
        $definition = Get-Content -LiteralPath $definitionFile -Raw
        if ($Action -eq 'error') {
            $e = Invoke-Failing { Restore-MyVmCheckpoint -Name 'fp' -CheckpointName $Checkpoint -ErrorAction Continue } "restore.$Step"
            $e.FullyQualifiedErrorId | Should -Be "$ErrorId,MyHypervisor.PowerShell.Commands.RestoreMyVmCheckpointCommand"
        }
        else {
            $script = [scriptblock]::Create("Restore-MyVmCheckpoint -Name 'fp' -CheckpointName '$Checkpoint'; 'not killed'")
            Invoke-Killed $script "restore.$Step"
        }
        Get-CpPicture -HomePath $vmHome -Name 'fp' | Should -Be $before
        Get-Content -LiteralPath $definitionFile -Raw | Should -Be $definition -Because 'a restore that put back the checkpoint''s settings writes back the definition from before'
        (Get-MyVm -Name 'fp').MemoryMiB | Should -Be ($definition | ConvertFrom-Json).memoryMiB -Because 'the next command sees the definition written back'
        Test-CpSameDiskContent -Left $copy -Right $disk | Should -BeTrue -Because 'the disk must be back as it was before the restore'
        Get-MyHvLeftover -HomePath $vmHome | Should -BeNullOrEmpty
    }

    Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
    $null = New-MyVm -Name 'fp' -Cpus 1 -MemoryMiB 128 -ErrorAction Stop
    $null = Start-MyVm -Name 'fp' -Wait -TimeoutSeconds 180 -ErrorAction Stop
    $null = Checkpoint-MyVm -Name 'fp' -CheckpointName 'base' -ErrorAction Stop
    # The disk moves on from the checkpoint, so a restore that was not undone would show.
    $null = Invoke-MyVmCommand -Name 'fp' -Command 'echo later > /data/later.txt; sync' -ErrorAction Stop
}

AfterAll {
    $env:MYHV_FAILPOINTS = $null
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    Assert-MyHvNoLeftovers -Home $script:vmHome
}

Describe 'Checkpoint-MyVm fail points' {
    It 'checkpoint.<Step>=<Action> on a <Mode> VM leaves it and its checkpoints as they were' -ForEach $checkpointCases {
        if ($Mode -eq 'stopped' -and (Get-MyVm -Name 'fp').Status -ne 'Stopped') { $null = Stop-MyVm -Name 'fp' -Force -ErrorAction Stop }
        $before = Get-CpPicture -HomePath $vmHome -Name 'fp'
        if ($Action -eq 'error') {
            $e = Invoke-Failing { Checkpoint-MyVm -Name 'fp' -CheckpointName 'fpcp' -ErrorAction Continue } "checkpoint.$Step"
            $e.FullyQualifiedErrorId | Should -Be 'StateWriteFailed,MyHypervisor.PowerShell.Commands.CheckpointMyVmCommand'
        }
        else {
            Invoke-Killed { Checkpoint-MyVm -Name 'fp' -CheckpointName 'fpcp'; 'not killed' } "checkpoint.$Step"
            Test-Path -LiteralPath (Join-Path $vmHome 'vms/fp/checkpoint.journal') | Should -BeTrue -Because 'the dead command''s journal is what the next command rolls back'
        }
        # The next command (here Get-MyVm, inside Get-CpPicture) rolls a dead attempt back first.
        Get-CpPicture -HomePath $vmHome -Name 'fp' | Should -Be $before
        if ($Mode -eq 'running') {
            # QEMU resumed the guest after its save: it still answers.
            (Invoke-MyVmCommand -Name 'fp' -Command 'cat /data/later.txt' -ErrorAction Stop).StdOut.Trim() | Should -Be 'later'
        }
        else { Get-MyHvLeftover -HomePath $vmHome | Should -BeNullOrEmpty }
    }
}

Describe 'Restore-MyVmCheckpoint fail points (a memory checkpoint of a stopped VM)' {
    BeforeAll {
        if ((Get-MyVm -Name 'fp').Status -ne 'Stopped') { $null = Stop-MyVm -Name 'fp' -Force -ErrorAction Stop }
        # 'base' was taken with 128 MiB: each restore also puts that back in the definition (from the
        # storage step on), which its rollback must write back.
        $null = Set-MyVm -Name 'fp' -MemoryMiB 160 -ErrorAction Stop
        $script:copy = Join-Path $TestDrive 'before.qcow2'
        Copy-Item -LiteralPath $disk -Destination $copy
    }

    It 'restore.<Step>=<Action> leaves the VM stopped, its disk and its checkpoints as they were' -ForEach $memoryRestoreCases {
        Assert-RestoreRolledBack -Step $Step -Action $Action -Checkpoint 'base' -ErrorId 'VmStartFailed'
    }
}

Describe 'Restore-MyVmCheckpoint fail points (a disk checkpoint)' {
    BeforeAll {
        # 'cold' holds /data/later.txt; the disk is then moved back to 'base' (without it), so a
        # restore of 'cold' that was not undone would show.
        $null = Checkpoint-MyVm -Name 'fp' -CheckpointName 'cold' -ErrorAction Stop
        $null = Restore-MyVmCheckpoint -Name 'fp' -CheckpointName 'base' -Wait -WarningAction SilentlyContinue -ErrorAction Stop
        $null = Stop-MyVm -Name 'fp' -Force -ErrorAction Stop
        (Get-MyVm -Name 'fp').MemoryMiB | Should -Be 128
        $null = Set-MyVm -Name 'fp' -MemoryMiB 160 -ErrorAction Stop
        $script:copy = Join-Path $TestDrive 'before-disk.qcow2'
        Copy-Item -LiteralPath $disk -Destination $copy
    }

    It 'restore.<Step>=<Action> leaves the disk and its checkpoints as they were' -ForEach $diskRestoreCases {
        Assert-RestoreRolledBack -Step $Step -Action $Action -Checkpoint 'cold' -ErrorId 'StateWriteFailed'
    }

    It 'without fail points, the same restores work afterwards' {
        $null = Restore-MyVmCheckpoint -Name 'fp' -CheckpointName 'cold' -ErrorAction Stop
        Test-CpSameDiskContent -Left $copy -Right $disk | Should -BeFalse -Because 'the disk is now the checkpoint''s'
        $vm = Restore-MyVmCheckpoint -Name 'fp' -CheckpointName 'base' -Wait -PassThru -WarningAction SilentlyContinue -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $vm.MemoryMiB | Should -Be 128 -Because 'the definition is back to the machine the checkpoint was taken on'
        (Invoke-MyVmCommand -Name 'fp' -Command 'test -e /data/later.txt; echo $?' -ErrorAction Stop).StdOut.Trim() | Should -Be '1'
        Get-CpSnapshotName -HomePath $vmHome -Name 'fp' | Should -Be @('base', 'cold')
    }
}
