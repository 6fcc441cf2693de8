# The per-VM lock file is never unlinked while held or while an attempt to lock it is under way
# (Remove-MyVm releases it, then unlinks it under the folder lock every attempt takes shared), so no
# waiter can lock an orphaned inode while a newcomer locks a new file; and an orphaned start journal is rolled back only when its recorded owner
# process (pid + start time) is gone too: a broken lock never rolls back a live start. A journal
# marked ended (a rollback that left something behind) may be retried while its owner lives.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:vm = 'owned'
    $script:paths = Get-MyHvVmPath -HomePath $vmHome -Name $vm
    $script:lockFile = Join-Path $vmHome "locks/$vm.lock"
    $script:owners = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function Start-Owner {
        # A live process standing in for the pwsh that runs a start: 'sleep 600'.
        $info = [System.Diagnostics.ProcessStartInfo]::new('sleep', '600')
        $info.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($info)
        $owners.Add($p)
        $p
    }

    function Write-Journal {
        # A start journal as a start writes it, owned by -Owner, with a runtime folder that holds a file.
        param([System.Diagnostics.Process] $Owner, [switch] $Ended)
        $id = [MyHypervisor.Core.Processes.ProcessLiveness]::Identify($Owner.Id)
        $null = New-Item -ItemType Directory -Path $paths.RunDir -Force
        Set-Content -LiteralPath (Join-Path $paths.RunDir 'work-in-progress') -Value 'x'
        $lines = @(
            @{ type = 'begin'; begin = @{ owner = @{ pid = $id.Pid; startTicks = $id.StartTicks; bootId = $id.BootId; executable = $id.Executable }; attempt = [guid]::NewGuid(); startedAt = [DateTimeOffset]::UtcNow } }
            @{ type = 'step'; step = 'runtime-dir' }
            @{ type = 'artifact'; record = @{ seq = 1; kind = 'Directory'; step = 'runtime-dir'; path = $paths.RunDir } }
        )
        if ($Ended) { $lines += @{ type = 'end' } }
        Set-Content -LiteralPath $paths.Journal -Value @($lines | ForEach-Object { $_ | ConvertTo-Json -Compress -Depth 5 })
    }
}

AfterAll {
    foreach ($p in $script:owners) { try { if (-not $p.HasExited) { $p.Kill() }; $null = $p.WaitForExit(5000) } catch { } }
    if ($script:vmHome) { Complete-MyHvTestSuite -RemoveHome -HomePath $script:vmHome }
}

Describe 'The lock file' {

    It 'is unlinked by Remove-MyVm only after it is released, under the folder lock: while an attempt to lock holds that folder lock, the file stays' {
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
        $lockFile | Should -Exist
        $inode = (Get-MyHvFileIdentity -Path $lockFile).Inode
        # An attempt to take a VM's lock is under way (it holds the folder lock shared, between its open and its flock).
        $folderLock = [System.IO.File]::Open((Join-Path $vmHome 'locks/.locks.lock'), 'OpenOrCreate', 'ReadWrite', 'ReadWrite')
        try {
            Remove-MyVm -Name $vm -Confirm:$false -ErrorAction Stop
            $paths.VmDir | Should -Not -Exist
            $lockFile | Should -Exist -Because 'the lock file is never unlinked while an attempt to lock it may be under way'
            (Get-MyHvFileIdentity -Path $lockFile).Inode | Should -Be $inode
        }
        finally { $folderLock.Dispose() }
        # A new VM of that name locks the same file; removed with no attempt under way, the file goes.
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
        (Get-MyHvFileIdentity -Path $lockFile).Inode | Should -Be $inode
        Remove-MyVm -Name $vm -Confirm:$false -ErrorAction Stop
        $lockFile | Should -Not -Exist
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
    }

    It 'while another process holds it, Remove-MyVm waits and fails with VmBusy, and the VM and its lock file stay' {
        $holder = Start-MyHvPwsh -Command "`$f = [System.IO.File]::Open('$lockFile', 'OpenOrCreate', 'ReadWrite', 'None'); 'locked'; Start-Sleep -Seconds 30"
        try {
            Wait-MyHvCondition -TimeoutSeconds 60 -Because 'the child to hold the lock' -Condition {
                try { $s = [System.IO.File]::Open($lockFile, 'Open', 'ReadWrite', 'None'); $s.Dispose(); $false } catch { $true }
            }
            { Remove-MyVm -Name $vm -Force -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'VmBusy*'
            $paths.VmDir | Should -Exist
            $lockFile | Should -Exist
        }
        finally { $holder.Kill($true); $null = $holder.WaitForExit(10000) }
    }
}

Describe 'An orphaned start journal whose owner still lives' {

    It 'is not rolled back while its owner (pid + start time) is alive, even though the lock is free; once the owner is gone, it is' {
        $owner = Start-Owner
        Write-Journal -Owner $owner
        $work = Join-Path $paths.RunDir 'work-in-progress'

        $info = Get-MyVm -Name $vm -ErrorAction Stop
        ($info.Problems -join "`n") | Should -Match 'still under way'
        $work | Should -Exist -Because 'Get-MyVm must not roll back a live start'
        { Start-MyVm -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmBusy*'
        { Repair-MyVm -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmBusy*'
        { Stop-MyVm -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmBusy*'
        $work | Should -Exist -Because 'no command rolled back the live start'
        $paths.Journal | Should -Exist

        # A process with the same pid but another start time is not the owner: simulated by the owner's death.
        $owner.Kill(); $null = $owner.WaitForExit(10000)
        Wait-MyHvCondition -TimeoutSeconds 30 -Because 'the owner to be gone' -Condition { -not (Test-MyHvProcessAlive -ProcessId $owner.Id) }.GetNewClosure()
        $null = Repair-MyVm -Name $vm -ErrorAction Stop
        $paths.RunDir | Should -Not -Exist -Because 'with its owner gone the attempt is rolled back'
        $paths.Journal | Should -Not -Exist
        $after = Get-MyVm -Name $vm
        "$($after.Status)" | Should -Be 'Failed'
        $after.StatusReason | Should -Match "interrupted at step 'runtime-dir'"
    }

    It 'a journal marked ended (its rollback left something behind) is retried even while its owner lives' {
        $owner = Start-Owner
        Write-Journal -Owner $owner -Ended
        $null = Repair-MyVm -Name $vm -ErrorAction Stop
        $paths.RunDir | Should -Not -Exist
        $paths.Journal | Should -Not -Exist
        Test-MyHvProcessAlive -ProcessId $owner.Id | Should -BeTrue -Because 'the owner itself is never signalled'
    }
}
