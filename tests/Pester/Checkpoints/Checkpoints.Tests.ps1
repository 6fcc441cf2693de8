# Checkpoints of a real tiny guest: a memory checkpoint of a running VM, restored later, brings
# back a file written before it and not one written after, and the guest runs on without booting
# (no boot line on the console, its clock back where it was saved); a paused VM stays paused while
# checkpointed; a stopped VM gets a disk checkpoint whose restore brings its disk back; a VM with
# virtiofs volumes is refused a memory checkpoint with InvalidVmSpec; hostile checkpoint names are
# refused before anything is made; listing, wildcards, the pipeline, removal, tab completion and
# the table view (deserialized too). A memory checkpoint records the machine it was taken on
# (CPUs, memory, network, volumes); after Set-MyVm changed them, its restore puts them back in the
# definition (-WhatIf names them, a warning says so) and the guest runs on with the memory and CPUs
# it had; a hand-edited record that cannot be used is refused before anything is touched; one
# taken before records existed says in plain words why it no longer fits; a full copy keeps the records.

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
        # What the guest booted with (its init prints it): a restore must bring back this very machine.
        $script:bootMemTotalKiB = [long] (Wait-MyHvConsoleText -HomePath $vmHome -Name 'cp' -Pattern '^myhv-guest: memtotal-kib (\d+)$' -TimeoutSeconds 5)
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
        # Its record keeps the machine the memory state was saved from.
        $record = Get-Content -LiteralPath (Join-Path $vmHome 'vms/cp/checkpoint-one.json') -Raw | ConvertFrom-Json
        $record.checkpointName | Should -Be 'one'
        $record.shape.cpus | Should -Be 1
        $record.shape.memoryMiB | Should -Be 128
        $record.shape.network.mode | Should -Be 'User'
        @($record.shape.volumes).Count | Should -Be 0
        $record.shape.freePageReporting | Should -BeTrue -Because 'a TCG VM has the free-page-reporting balloon by default'
        # Get-MyVmCheckpoint shows that machine.
        (Get-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -ErrorAction Stop).TakenOn | Should -Be '1 CPU, 128 MiB, network User, no volumes, balloon'
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
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/cp/checkpoint-paused.json') | Should -BeTrue
        Get-MyVmCheckpoint -Name 'cp' -CheckpointName 'paused' | Remove-MyVmCheckpoint -ErrorAction Stop
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('one')
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/cp/checkpoint-paused.json') | Should -BeFalse -Because 'its record goes with it'
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
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/cp/checkpoint-cold.json') | Should -BeFalse -Because 'a stopped disk boots on any machine: nothing to record'
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

    It 'of a VM given a virtiofs volume since, resumes a memory checkpoint without it: the volume goes, as the checkpoint had none' {
        $share = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'share') -Force
        $null = Set-MyVm -Name 'cp' -AddVolume @{ Path = $share.FullName; Tag = 'share' } -ErrorAction Stop
        $warnings = $null
        $vm = Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -PassThru -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        @($vm.Volumes).Count | Should -Be 0
        @(Get-MyVm -Name 'cp').Volumes.Count | Should -Be 0
        "$warnings" | Should -BeLike "*back to the settings checkpoint 'one' was taken with: Volumes $($share.FullName) -> /mnt/share -> (none)*"
        $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop
        # A disk checkpoint of the stopped VM is allowed with volumes.
        $null = Set-MyVm -Name 'cp' -AddVolume @{ Path = $share.FullName; Tag = 'share' } -ErrorAction Stop
        try { (Checkpoint-MyVm -Name 'cp' -CheckpointName 'with-share' -ErrorAction Stop).Kind | Should -Be 'Disk' }
        finally { $null = Set-MyVm -Name 'cp' -RemoveVolume 'share' -ErrorAction Stop }
    }
}

Describe 'A memory checkpoint restored after Set-MyVm changed the machine' {
    BeforeAll {
        $script:definitionFile = Join-Path $vmHome 'vms/cp/definition.json'
        $script:recordFile = Join-Path $vmHome 'vms/cp/checkpoint-one.json'
        $script:recordText = Get-Content -LiteralPath $recordFile -Raw
        if ((Get-MyVm -Name 'cp').Status -ne 'Stopped') { $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop }
        # The balloon too: a state saved with it does not load into a machine without it.
        $null = Set-MyVm -Name 'cp' -MemoryMiB 192 -Cpus 2 -FreePageReporting $false -ErrorAction Stop
    }

    It '-WhatIf names each setting the restore puts back, and changes nothing' {
        $before = Get-CpPicture -HomePath $vmHome -Name 'cp'
        $definition = Get-Content -LiteralPath $definitionFile -Raw
        # What-if lines go to the host: a child pwsh's output shows them as a user sees them.
        $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
        $text = (Invoke-MyHvChildPwsh -Command "Import-Module '$manifest' -ErrorAction Stop; Restore-MyVmCheckpoint -Name cp -CheckpointName one -WhatIf") -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match ([regex]::Escape('What if: Performing the operation "Restore checkpoint ''one'', putting back the settings it was taken with: Cpus 2 -> 1; MemoryMiB 192 -> 128; FreePageReporting False -> (none)" on target "VM ''cp''"'))
        Get-CpPicture -HomePath $vmHome -Name 'cp' | Should -Be $before
        Get-Content -LiteralPath $definitionFile -Raw | Should -Be $definition
    }

    It 'resumes the guest on the machine it was taken on, and the definition says so (a warning names what changed)' {
        $warnings = $null
        $said = @(Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -Wait -TimeoutSeconds 120 -Verbose -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop 4>&1 |
            ForEach-Object Message)
        $said -join "`n" | Should -Match "checkpoint 'one' was taken on other settings; the restore puts them back in its definition: Cpus 2 -> 1; MemoryMiB 192 -> 128"
        # The resumed guest does not say READY again: -Wait waits for its agent alone, not for the channel's grace.
        $said | Should -Contain "VM 'cp': waiting up to 120 s for the guest agent of the resumed guest (it announced itself before checkpoint 'one' was saved)"
        $said | Should -Contain "VM 'cp': the guest reported ready through its agent"
        @($warnings).Count | Should -Be 1
        "$warnings" | Should -BeLike "*its definition is back to the settings checkpoint 'one' was taken with: Cpus 2 -> 1; MemoryMiB 192 -> 128*Set-MyVm*"
        $vm = Get-MyVm -Name 'cp'
        $vm.Status | Should -Be 'Running'
        $vm.Cpus | Should -Be 1
        $vm.MemoryMiB | Should -Be 128
        $definition = Get-Content -LiteralPath $definitionFile -Raw | ConvertFrom-Json
        $definition.cpus | Should -Be 1
        $definition.memoryMiB | Should -Be 128
        $definition.PSObject.Properties.Name | Should -Not -Contain 'freePageReporting' -Because 'the default is put back as the default'
        (Invoke-MyHvQmp -HomePath $vmHome -Name 'cp' -Command 'query-balloon').actual | Should -Be 128MB -Because 'the machine has its balloon again'
        # QEMU runs the machine of the checkpoint, and the guest is the one that booted with 128 MiB (not a new boot with another size).
        (Invoke-MyHvQmp -HomePath $vmHome -Name 'cp' -Command 'query-memory-size-summary').'base-memory' | Should -Be 128MB
        @(Invoke-MyHvQmp -HomePath $vmHome -Name 'cp' -Command 'query-cpus-fast').Count | Should -Be 1
        [long] ((Invoke-Guest 'grep MemTotal /proc/meminfo') -replace '\D', '') | Should -Be $bootMemTotalKiB
        Invoke-Guest 'nproc' | Should -Be '1'
        Get-CpSnapshotName -HomePath $vmHome -Name 'cp' | Should -Be @('cold', 'one', 'with-share')
        Get-Content -LiteralPath $recordFile -Raw | Should -Be $recordText -Because 'the restore reads the record, it does not change it'
    }

    It 'refuses a hand-edited record (<Label>) with InvalidVmSpec naming the field, before anything is touched' -ForEach @(
        @{ Label = 'cpus 0'; Edit = { param($r) $r.shape.cpus = 0 }; Field = "*field 'shape.cpus' is 0, not 1-64*" }
        @{ Label = 'cpus a string'; Edit = { param($r) $r.shape.cpus = '1' }; Field = '*$.shape.cpus*' }
        @{ Label = 'cpus null'; Edit = { param($r) $r.shape.cpus = $null }; Field = "*field 'shape.cpus' is null*" }
        @{ Label = 'memoryMiB missing'; Edit = { param($r) $r.shape.Remove('memoryMiB') }; Field = "*field 'shape.memoryMiB' is null*" }
        @{ Label = 'memoryMiB too small'; Edit = { param($r) $r.shape.memoryMiB = 1 }; Field = "*field 'shape.memoryMiB' is 1, not 64-65536*" }
        @{ Label = 'network mode unknown'; Edit = { param($r) $r.shape.network.mode = 7 }; Field = "*field 'shape.network.mode' is 7, not a network mode*" }
        @{ Label = 'shape null'; Edit = { param($r) $r.shape = $null }; Field = "*field 'shape' is null*" }
        @{ Label = 'another checkpoint''s'; Edit = { param($r) $r.checkpointName = 'cold' }; Field = "*field 'checkpointName' is 'cold' but the file is the record of checkpoint 'one'*" }
    ) {
        # The VM runs: a refusal must come before -Force stops it.
        $record = $recordText | ConvertFrom-Json -AsHashtable
        & $Edit $record
        Set-Content -LiteralPath $recordFile -Value ($record | ConvertTo-Json -Depth 6) -NoNewline
        try {
            $before = Get-CpPicture -HomePath $vmHome -Name 'cp'
            $definition = Get-Content -LiteralPath $definitionFile -Raw
            $err = $null
            Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -Force -ErrorVariable err -ErrorAction SilentlyContinue
            @($err).Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.RestoreMyVmCheckpointCommand'
            $err[0].Exception.Message | Should -BeLike "*$recordFile' cannot be used:*"
            $err[0].Exception.Message | Should -BeLike $Field
            $err[0].Exception.Message | Should -BeLike '*nothing was changed*Remove-MyVmCheckpoint*'
            Get-CpPicture -HomePath $vmHome -Name 'cp' | Should -Be $before
            Get-Content -LiteralPath $definitionFile -Raw | Should -Be $definition
            # A listing still shows every checkpoint, this one's record as unusable.
            $listed = @(Get-MyVmCheckpoint -Name 'cp' -ErrorAction Stop)
            ($listed | Where-Object CheckpointName -EQ 'one').TakenOn | Should -BeLike '(record unusable:*'
            ($listed | Where-Object CheckpointName -EQ 'cold').TakenOn | Should -BeNullOrEmpty -Because 'a disk checkpoint has no machine to record'
        }
        finally { Set-Content -LiteralPath $recordFile -Value $recordText -NoNewline }
    }

    It 'taken before machines were recorded, resumes where the machine still fits and says in plain words why not where it does not' {
        $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop
        Remove-Item -LiteralPath $recordFile
        try {
            $null = Set-MyVm -Name 'cp' -MemoryMiB 192 -ErrorAction Stop
            $before = Get-CpPicture -HomePath $vmHome -Name 'cp'
            $definition = Get-Content -LiteralPath $definitionFile -Raw
            $err = $null
            Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -ErrorVariable err -ErrorAction SilentlyContinue
            @($err).Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.RestoreMyVmCheckpointCommand'
            $err[0].Exception.Message | Should -BeLike "*'one'*taken before*It was taken with MemoryMiB 128; the VM now has 192*Set-MyVm -Name cp*The VM and its disk are as they were before.*"
            $err[0].Exception.Message | Should -Not -Match 'pc\.ram|qemu-system|Error -22'
            Get-CpPicture -HomePath $vmHome -Name 'cp' | Should -Be $before
            Get-Content -LiteralPath $definitionFile -Raw | Should -Be $definition
            # Back on the machine it was taken on, it resumes as before, and the definition is left as it is.
            $null = Set-MyVm -Name 'cp' -MemoryMiB 128 -ErrorAction Stop
            $definition = Get-Content -LiteralPath $definitionFile -Raw
            (Restore-MyVmCheckpoint -Name 'cp' -CheckpointName 'one' -PassThru -ErrorAction Stop).Status | Should -Be 'Running'
            Get-Content -LiteralPath $definitionFile -Raw | Should -Be $definition
        }
        finally { Set-Content -LiteralPath $recordFile -Value $recordText -NoNewline }
    }
}

Describe 'A full copy of a VM with a memory checkpoint' {
    It 'keeps the checkpoint''s record with the disk, so the copy''s restore knows the machine too' {
        if ((Get-MyVm -Name 'cp').Status -ne 'Stopped') { $null = Stop-MyVm -Name 'cp' -Force -ErrorAction Stop }
        $null = Copy-MyVm -Name 'cp' -NewName 'cpcopy' -ErrorAction Stop
        try {
            @(Get-MyVmCheckpoint -Name 'cpcopy' | Where-Object Kind -EQ 'Memory' | ForEach-Object CheckpointName) | Should -Be @('one')
            Get-Content -LiteralPath (Join-Path $vmHome 'vms/cpcopy/checkpoint-one.json') -Raw |
                Should -Be (Get-Content -LiteralPath (Join-Path $vmHome 'vms/cp/checkpoint-one.json') -Raw)
            $null = Set-MyVm -Name 'cpcopy' -MemoryMiB 160 -ErrorAction Stop
            $null = Restore-MyVmCheckpoint -Name 'cpcopy' -CheckpointName 'one' -WhatIf
            (Get-MyVm -Name 'cpcopy').MemoryMiB | Should -Be 160 -Because '-WhatIf changes nothing'
            $plan = @(Restore-MyVmCheckpoint -Name 'cpcopy' -CheckpointName 'one' -Confirm:$false -WhatIf:$false -Verbose -WarningAction SilentlyContinue -ErrorAction Stop 4>&1 |
                ForEach-Object Message) -join "`n"
            $plan | Should -Match 'MemoryMiB 160 -> 128'
            (Get-MyVm -Name 'cpcopy').MemoryMiB | Should -Be 128
        }
        finally { Remove-MyVm -Name 'cpcopy' -Force -Confirm:$false -ErrorAction Continue }
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
