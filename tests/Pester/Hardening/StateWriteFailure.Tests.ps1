# Disk full or a read-only MYHV_HOME during a command: an error with a contract id (VmStartFailed for
# Start-MyVm, StateWriteFailed for the others) naming the path and the cause, and the recorded state
# stays what it was. MYHV_HOME is a small tmpfs made by this suite (mode 0700), filled to the last
# byte with dd (df reports 0 bytes available), or remounted read-only.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Initialize-MyHvTestSuite -NoHome
    $script:root = New-MyHvTestDir -Prefix 'hrW'
    $script:vmHome = "$root/h"
    $null = New-Item -ItemType Directory -Path $vmHome
    & mount -t tmpfs -o 'size=24m,mode=0700' hrtmpfs $vmHome
    $script:mounted = $LASTEXITCODE -eq 0
    $env:MYHV_HOME = $vmHome
    $script:vm = 'full'
    $script:paths = Get-MyHvVmPath -HomePath $vmHome -Name $vm

    function Get-Available { [int64] ((& df -B1 --output=avail -- $vmHome | Select-Object -Last 1).Trim()) }

    function Set-Full {
        # Fills the tmpfs to its last byte; with -LeaveOnePage one 4 KiB page stays free (room for
        # the start journal's first page, none for anything after it).
        param([switch] $LeaveOnePage)
        if ($LeaveOnePage) { & dd if=/dev/zero of="$vmHome/page" bs=4096 count=1 status=none }
        & dd if=/dev/zero of="$vmHome/filler" bs=1M status=none 2>$null
        & dd if=/dev/zero of="$vmHome/filler2" bs=1 status=none 2>$null
        Get-Available | Should -Be 0 -Because 'precondition: the file system is full to the last byte'
        if ($LeaveOnePage) { Remove-Item -LiteralPath "$vmHome/page"; Get-Available | Should -Be 4096 }
    }

    function Clear-Full { Remove-Item -Path "$vmHome/filler", "$vmHome/filler2", "$vmHome/page" -ErrorAction SilentlyContinue }

    function Set-ReadOnly { param([bool] $On) & mount -o "remount,$(if ($On) { 'ro' } else { 'rw' })" -- $vmHome; $LASTEXITCODE | Should -Be 0 }

    function Get-StateBytes { [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($paths.State)) }

    function Assert-PathAndCause {
        param($ErrorRecord, [string] $Id, [string] $Cause)
        $ErrorRecord.FullyQualifiedErrorId | Should -BeLike "$Id*"
        $ErrorRecord.Exception.GetType().FullName | Should -Be 'MyHypervisor.Core.Errors.MyHvException'
        $ErrorRecord.Exception.Message | Should -Match ([regex]::Escape($vmHome) + '/\S+') -Because 'the error names the path'
        $ErrorRecord.Exception.Message | Should -Match $Cause -Because 'the error names the cause'
    }

    function Invoke-Failing {
        # Runs a command that must fail (it is given -ErrorAction Stop); returns its error record.
        param([scriptblock] $Command)
        $record = try { & $Command; $null } catch { $_ }
        $record | Should -Not -BeNullOrEmpty -Because 'the command must fail'
        $record
    }
}

AfterAll {
    if ($script:mounted) {
        & mount -o remount,rw -- $script:vmHome 2>$null
        Remove-Item -Path "$script:vmHome/filler", "$script:vmHome/filler2", "$script:vmHome/page" -ErrorAction SilentlyContinue
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
        & umount -- $script:vmHome
        Assert-MyHvNoLeftovers -Home $script:vmHome
    }
    if ($script:root) { Remove-Item -LiteralPath $script:root -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'A full MYHV_HOME' {

    It 'precondition: a tmpfs home with a VM that has run once' {
        Skip-UnlessPrerequisite -Name 'root (mount -t tmpfs)' -Condition $script:mounted
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
        Start-MyVm -Name $vm -ErrorAction Stop
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        (Get-MyVm -Name $vm).Status | Should -Be 'Stopped'
    }

    It 'Start-MyVm on a home full to the last byte: VmStartFailed naming the path and "No space left on device"; state unchanged, nothing left' {
        $before = Get-StateBytes
        Set-Full
        try {
            $err = Invoke-Failing { Start-MyVm -Name $vm -ErrorAction Stop }
        }
        finally { Clear-Full }
        Assert-PathAndCause -ErrorRecord $err -Id 'VmStartFailed' -Cause 'No space left on device'
        Get-StateBytes | Should -Be $before -Because 'the recorded state stays what it was'
        $paths.Journal | Should -Not -Exist
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm | Where-Object { $_ -ne "mount $vmHome" }) | Should -BeNullOrEmpty
        (Get-MyVm -Name $vm).Status | Should -Be 'Stopped'
    }

    It 'Start-MyVm when the disk fills after its journal began (one page left): VmStartFailed naming state.json; the attempt is rolled back and the state unchanged' {
        $before = Get-StateBytes
        Set-Full -LeaveOnePage
        try {
            $err = Invoke-Failing { Start-MyVm -Name $vm -ErrorAction Stop }
        }
        finally { Clear-Full }
        Assert-PathAndCause -ErrorRecord $err -Id 'VmStartFailed' -Cause 'No space left on device'
        $err.Exception.Message | Should -Match ([regex]::Escape($paths.State))
        Get-StateBytes | Should -Be $before
        $paths.Journal | Should -Not -Exist -Because 'the attempt was rolled back and its journal retired'
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm | Where-Object { $_ -ne "mount $vmHome" }) | Should -BeNullOrEmpty
        Start-MyVm -Name $vm -ErrorAction Stop
        (Get-MyVm -Name $vm).Status | Should -Be 'Running' -Because 'with space again the VM starts'
    }

    It 'Stop-MyVm on a full home: StateWriteFailed naming state.json and the cause; the state still says Running and the VM still runs' {
        $info = Get-MyVm -Name $vm
        "$($info.Status)" | Should -Be 'Running' -Because 'precondition'
        $before = Get-StateBytes
        Set-Full
        try {
            $err = Invoke-Failing { Stop-MyVm -Name $vm -Force -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'No space left on device'
            $err.Exception.Message | Should -Match ([regex]::Escape($paths.State))
            Get-StateBytes | Should -Be $before
            Test-MyHvProcessAlive -ProcessId $info.Pid | Should -BeTrue

            # Remove-MyVm -Force must stop it first: the same error, and nothing is removed.
            $err = Invoke-Failing { Remove-MyVm -Name $vm -Force -Confirm:$false -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'No space left on device'
            Get-StateBytes | Should -Be $before
            $paths.Overlay | Should -Exist
            (Get-MyVm -Name $vm).Pid | Should -Be $info.Pid
        }
        finally { Clear-Full }
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        (Get-MyVm -Name $vm).Status | Should -Be 'Stopped'
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm | Where-Object { $_ -ne "mount $vmHome" }) | Should -BeNullOrEmpty
    }

    It 'New-MyVm on a full home: StateWriteFailed naming the path; no VM and no staging folder left' {
        Set-Full
        try {
            $err = Invoke-Failing { New-MyVm -Name 'other' -Image tiny -ErrorAction Stop }
        }
        finally { Clear-Full }
        Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'No space left on device'
        @(Get-MyVm | ForEach-Object Name) | Should -Be @($vm)
        @(Get-ChildItem -LiteralPath "$vmHome/vms" -Force | ForEach-Object Name) | Should -Be @($vm)
    }

    It 'Remove-MyVm of a stopped VM on a full home needs no new data: it removes the VM completely' {
        Set-Full
        try { Remove-MyVm -Name $vm -Confirm:$false -ErrorAction Stop }
        finally { Clear-Full }
        $paths.VmDir | Should -Not -Exist
        @(Get-MyVm) | Should -BeNullOrEmpty
    }
}

Describe 'A read-only MYHV_HOME' {

    It 'Start, Stop, Remove and New on a read-only home (a running VM''s stop: its folder read-only): contract ids naming the path and "Read-only file system"; Get-MyVm still answers; nothing changes' {
        Skip-UnlessPrerequisite -Name 'root (mount -t tmpfs)' -Condition $script:mounted
        Get-MyVm | Remove-MyVm -Force -Confirm:$false -ErrorAction Stop
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
        $before = Get-StateBytes
        $listing = @(Get-ChildItem -LiteralPath $vmHome -Recurse -Force | ForEach-Object FullName)
        Set-ReadOnly $true
        try {
            "$((Get-MyVm -Name $vm -ErrorAction Stop).Status)" | Should -Be 'Stopped' -Because 'reading needs no write'
            $err = Invoke-Failing { Start-MyVm -Name $vm -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'VmStartFailed' -Cause 'Read-only file system'
            $err = Invoke-Failing { Remove-MyVm -Name $vm -Confirm:$false -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'Read-only file system'
            $err = Invoke-Failing { New-MyVm -Name 'other' -Image tiny -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'Read-only file system'
            Stop-MyVm -Name $vm -ErrorAction Stop   # not running: nothing to write, no error
        }
        finally { Set-ReadOnly $false }
        Get-StateBytes | Should -Be $before
        @(Get-ChildItem -LiteralPath $vmHome -Recurse -Force | ForEach-Object FullName) | Should -Be $listing -Because 'nothing was created or deleted'
        Start-MyVm -Name $vm -ErrorAction Stop
        $running = Get-MyVm -Name $vm
        "$($running.Status)" | Should -Be 'Running'
        $before = Get-StateBytes
        # A running QEMU holds files open for writing, so the whole tmpfs cannot go read-only: the
        # VM's folder is made read-only by a read-only bind mount of itself instead.
        & mount --bind -- $paths.VmDir $paths.VmDir
        $LASTEXITCODE | Should -Be 0
        try {
            & mount -o remount,bind,ro -- $paths.VmDir
            $LASTEXITCODE | Should -Be 0
            $err = Invoke-Failing { Stop-MyVm -Name $vm -Force -ErrorAction Stop }
            Assert-PathAndCause -ErrorRecord $err -Id 'StateWriteFailed' -Cause 'Read-only file system'
            $err.Exception.Message | Should -Match ([regex]::Escape($paths.State))
            Test-MyHvProcessAlive -ProcessId $running.Pid | Should -BeTrue
        }
        finally { & umount -- $paths.VmDir }
        Get-StateBytes | Should -Be $before
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $vm | Where-Object { $_ -ne "mount $vmHome" }) | Should -BeNullOrEmpty
    }
}
