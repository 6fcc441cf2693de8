# Issue 6, point 5 / acceptance: -WhatIf on every changing cmdlet (New, Start, Stop, Remove, Repair)
# leaves the whole MYHV_HOME byte-identical (every entry listed with inode, mode, size and mtime in
# nanoseconds, every file hashed) and changes nothing running (same pid, same process). The only
# thing a snapshot may see move is what the running guest writes by itself: its console log and
# its disk, for which the entry itself (inode) must stay. Also: the What-if messages name the real
# targets, and Remove-MyVm refuses a running VM without -Force, even with -Confirm:$false.
# Two boots: one VM that ran once and is stopped, one that is running.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite

    # 'wstop' has run once (it has a disk, a console log, a stop record); 'wrun' is running.
    $null = New-MyVm -Name 'wstop' -ErrorAction Stop
    $null = New-MyVm -Name 'wrun' -ErrorAction Stop
    # No -Wait: what a booting guest writes (console, disk) is volatile in the snapshot anyway.
    $null = Start-MyVm -Name 'wstop', 'wrun' -ErrorAction Stop
    $null = Stop-MyVm -Name 'wstop' -Force -ErrorAction Stop
    $script:running = Get-MyVm -Name 'wrun' -ErrorAction Stop
    function Get-StartTicks {
        # Field 22 of /proc/<pid>/stat: the process's start time, which a new process would not share.
        param([int] $ProcessId)
        $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
        ($stat.Substring($stat.LastIndexOf(')') + 2) -split ' ')[19]
    }
    $script:runningStart = Get-StartTicks $running.Pid
    $script:volatile = 'vms/wrun/console.log', 'vms/wrun/disk.qcow2'

    function Assert-NothingChanged {
        param([string[]] $Before, [string] $Because)
        $after = Get-MyHvHomeSnapshot -Path $vmHome -Volatile $volatile
        $diff = @(Compare-Object -ReferenceObject $Before -DifferenceObject $after | ForEach-Object { "$($_.SideIndicator) $($_.InputObject)" })
        $diff | Should -BeNullOrEmpty -Because "$Because must leave MYHV_HOME byte-identical"
        $vm = Get-MyVm -Name 'wrun' -ErrorAction Stop
        $vm.Status | Should -Be 'Running' -Because "$Because must not touch the running VM"
        $vm.Pid | Should -Be $running.Pid
        Get-StartTicks $running.Pid | Should -Be $runningStart -Because 'the very same process runs'
        (Get-MyVm -Name 'wstop' -ErrorAction Stop).Status | Should -Be 'Stopped'
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe '-WhatIf changes nothing' {
    BeforeAll {
        # Get-MyVm above made the lock files; from here on only -WhatIf commands run between snapshots.
        $script:before = Get-MyHvHomeSnapshot -Path $vmHome -Volatile $volatile
    }

    It 'the snapshot sees what matters (state files, disks, the running VM''s sockets)' {
        $before | Should -Contain ($before | Where-Object { $_ -like 'vms/wstop/state.json|f|*' })
        ($before | Where-Object { $_ -like 'vms/wstop/state.json|f|*' }) | Should -Match '\|\d+\.\d+\|[0-9A-F]{64}$'
        ($before | Where-Object { $_ -like 'vms/wstop/disk.qcow2|f|*' }) | Should -Not -BeNullOrEmpty
        ($before | Where-Object { $_ -like 'run/wrun/api.sock|s|*' }) | Should -Not -BeNullOrEmpty
        ($before | Where-Object { $_ -like 'vms/wrun/disk.qcow2|f|*|volatile' }) | Should -Not -BeNullOrEmpty
    }

    It '<Label>' -ForEach @(
        @{ Label = 'New-MyVm -WhatIf creates no VM'; Command = { New-MyVm -Name 'wnew' -MemoryMiB 512 -WhatIf } }
        @{ Label = 'Start-MyVm -WhatIf starts no VM'; Command = { Start-MyVm -Name 'wstop' -WhatIf } }
        @{ Label = 'Start-MyVm -WhatIf -Wait -AsJob starts no job'; Command = { Start-MyVm -Name 'wstop' -Wait -AsJob -WhatIf } }
        @{ Label = 'Stop-MyVm -WhatIf leaves the running VM'; Command = { Stop-MyVm -Name 'wrun' -WhatIf } }
        @{ Label = 'Stop-MyVm -Force -WhatIf leaves the running VM'; Command = { Stop-MyVm -Name 'wrun' -Force -WhatIf } }
        @{ Label = 'Stop-MyVm * -AsJob -WhatIf starts no job'; Command = { Stop-MyVm -Name '*' -AsJob -WhatIf } }
        @{ Label = 'Remove-MyVm -WhatIf removes no stopped VM'; Command = { Remove-MyVm -Name 'wstop' -WhatIf } }
        @{ Label = 'Remove-MyVm -WhatIf -Force removes no running VM'; Command = { Remove-MyVm -Name 'wrun' -WhatIf -Force } }
        @{ Label = 'Remove-MyVm * -WhatIf -Force removes nothing'; Command = { Remove-MyVm -Name '*' -WhatIf -Force } }
        @{ Label = 'Repair-MyVm -WhatIf repairs nothing'; Command = { Repair-MyVm -WhatIf } }
        @{ Label = 'piped: Get-MyVm objects into Stop-MyVm -WhatIf and Remove-MyVm -WhatIf -Force'; Command = {
                $vms = @([pscustomobject]@{ Name = 'wrun' }, [pscustomobject]@{ Name = 'wstop' })
                $vms | Stop-MyVm -Force -WhatIf; $vms | Remove-MyVm -Force -WhatIf; $vms | Start-MyVm -WhatIf
            }
        }
        @{ Label = '$WhatIfPreference set by a script works like -WhatIf (Remove -Force, Stop, New)'; Command = {
                $WhatIfPreference = $true
                Remove-MyVm -Name 'wrun' -Force; Stop-MyVm -Name 'wrun'; New-MyVm -Name 'wpref'; Repair-MyVm
            }
        }
    ) {
        $jobsBefore = @(Get-Job).Count
        $output = @(& $Command)
        $output | Should -BeNullOrEmpty -Because '-WhatIf writes no objects (no VM, no job)'
        @(Get-Job).Count | Should -Be $jobsBefore
        Assert-NothingChanged -Before $before -Because $Label
    }

    It 'New-MyVm -WhatIf still checks the settings (it tells the truth about what would fail)' {
        ({ New-MyVm -Name 'Bad_Name' -WhatIf } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
        ({ New-MyVm -Name 'wstop' -WhatIf } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*' -Because 'the name is taken'
        ({ New-MyVm -Name 'wnew' -Image 'no-such-image' -WhatIf } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'ImageNotFound,*'
        Assert-NothingChanged -Before $before -Because 'a refused New-MyVm -WhatIf'
    }

    It 'the What-if messages name the operation and the real target of each VM' {
        # What-if lines go to the host, so a child pwsh's console output shows them as a user sees them.
        $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
        $script = @"
Import-Module '$manifest' -ErrorAction Stop
New-MyVm -Name wnew -MemoryMiB 512 -WhatIf
Start-MyVm -Name wstop -WhatIf
Stop-MyVm -Name w* -WhatIf
Remove-MyVm -Name wrun -Force -WhatIf
Repair-MyVm -Name wstop -WhatIf
"@
        $text = (Invoke-MyHvChildPwsh -Command $script) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'What if: Performing the operation "Create" on target "VM ''wnew'' \(1 CPU, 512 MiB, image ''tiny'''
        $text | Should -Match 'What if: Performing the operation "Start" on target "VM ''wstop''"'
        $text | Should -Match 'What if: Performing the operation "Stop" on target "VM ''wrun''"'
        $text | Should -Match 'What if: Performing the operation "Stop" on target "VM ''wstop''"'
        $text | Should -Match 'What if: Performing the operation "Remove" on target "VM ''wrun'' and its disk"'
        $text | Should -Match 'What if: Performing the operation "Repair" on target "VM ''wstop''"'
        Assert-NothingChanged -Before $before -Because 'the What-if commands of a child pwsh'
    }
}

Describe 'Remove-MyVm and a running VM' {
    It 'refuses without -Force, even with -Confirm:$false, and the VM keeps running' {
        $before = Get-MyHvHomeSnapshot -Path $vmHome -Volatile $volatile
        $err = $null
        Remove-MyVm -Name 'wrun' -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*RemoveMyVmCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be 'wrun'
        $err[0].Exception.Message | Should -Match 'Remove-MyVm -Force'
        Assert-NothingChanged -Before $before -Because 'a refused Remove-MyVm'
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/wrun/disk.qcow2') | Should -BeTrue
    }

    It 'is a terminating error with -ErrorAction Stop, catchable by id' {
        $caught = $null
        try { Remove-MyVm -Name 'wrun' -Confirm:$false -ErrorAction Stop }
        catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*'
        (Get-MyVm -Name 'wrun').Pid | Should -Be $running.Pid
    }
}
