# Copy-MyVm: a clone of a stopped VM boots with its own MAC address and the source's data (the
# boot counter on the disk goes on from the source's); a linked clone's chain is an overlay on a
# frozen, read-only copy, unaffected by the source's later writes; a running source is refused;
# every fail point (clone.prepare, clone.disk, clone.definition, clone.commit) with error and with
# kill leaves the VMs folder, the locks and the source's disk exactly as before.

BeforeDiscovery {
    $script:steps = @('prepare', 'disk', 'definition', 'commit')
    $script:cases = foreach ($s in $script:steps) { foreach ($a in 'error', 'kill') { @{ Step = $s; Action = $a } } }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:bootTimeout = 180

    function Get-BootCount([string] $Name) {
        [int] (Wait-MyHvConsoleText -HomePath $script:vmHome -Name $Name -Pattern '^myhv-guest: boot-count (\d+)$' -TimeoutSeconds 60)
    }

    function Get-DiskInfo([string] $Path) {
        $json = & qemu-img info -U --output=json -- $Path
        if ($LASTEXITCODE -ne 0) { throw "qemu-img info $Path failed" }
        $json | ConvertFrom-Json
    }

    function Get-HomeSnapshot {
        # Everything under vms/ and locks/ (with hashes): a rolled-back copy must leave it identical.
        Get-MyHvTreeSnapshot -Path (Join-Path $script:vmHome 'vms'), (Join-Path $script:vmHome 'locks')
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Copy-MyVm of a real guest' {
    BeforeAll {
        $null = New-MyVm -Name 'src' -Cpus 1 -MemoryMiB 128 -KernelArguments 'loglevel=4' -ErrorAction Stop
    }

    It 'refuses a running source with VmAlreadyRunning and creates nothing' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $null = Start-MyVm -Name 'src' -Wait -TimeoutSeconds $bootTimeout -ErrorAction Stop
        (Get-BootCount 'src') | Should -Be 1
        $err = $null
        Copy-MyVm -Name 'src' -NewName 'nope' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'VmAlreadyRunning,MyHypervisor.PowerShell.Commands.CopyMyVmCommand'
        Get-MyVm -Name 'nope' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath (Join-Path $vmHome 'vms') -Force -Filter '.clone-*') | Should -BeNullOrEmpty
        $null = Stop-MyVm -Name 'src' -TimeoutSeconds 120 -ErrorAction Stop
    }

    It 'a full copy has the settings, a new id and MAC, and its own copy of the disk' {
        $source = Get-MyVm -Name 'src'
        $copy = Copy-MyVm -Name 'src' -NewName 'full' -PassThru -ErrorAction Stop
        $copy.Name | Should -Be 'full'
        $copy.Status | Should -Be 'Stopped'
        $copy.Id | Should -Not -Be $source.Id
        $copy.MacAddress | Should -Not -Be $source.MacAddress
        $copy.MacAddress | Should -Match '^([0-9a-f]{2}:){5}[0-9a-f]{2}$'
        $copy.Cpus | Should -Be $source.Cpus
        $copy.MemoryMiB | Should -Be $source.MemoryMiB
        (Get-Content -Raw (Join-Path $copy.Path 'definition.json') | ConvertFrom-Json).kernelArguments | Should -Be 'loglevel=4'
        $disk = Join-Path $copy.Path 'disk.qcow2'
        (Get-MyHvInode -Path $disk) | Should -Not -Be (Get-MyHvInode -Path (Join-Path $source.Path 'disk.qcow2'))
        (Get-FileHash $disk).Hash | Should -Be (Get-FileHash (Join-Path $source.Path 'disk.qcow2')).Hash
        (Get-DiskInfo $disk).'backing-filename' | Should -BeLike '*/rootfs.ext4'
        (& stat -c '%a' -- $disk) | Should -Be '600'
        Test-Path -LiteralPath (Join-Path $copy.Path 'console.log') | Should -BeFalse
    }

    It 'a linked copy is an overlay on a frozen, read-only copy of the disk' {
        $copy = Copy-MyVm -Name 'src' -NewName 'lnk' -Linked -PassThru -ErrorAction Stop
        $base = Join-Path $copy.Path 'base.qcow2'
        $disk = Join-Path $copy.Path 'disk.qcow2'
        (& stat -c '%a' -- $base) | Should -Be '400'
        (Get-FileHash $base).Hash | Should -Be (Get-FileHash (Join-Path $vmHome 'vms/src/disk.qcow2')).Hash
        $info = Get-DiskInfo $disk
        $info.'backing-filename' | Should -Be 'base.qcow2'
        $info.'backing-filename-format' | Should -Be 'qcow2'
        (Get-Item $disk).Length | Should -BeLessThan (Get-Item $base).Length
    }

    It 'the source writes on after the copies: its second boot counts 2 on its own disk' {
        $null = Start-MyVm -Name 'src' -Wait -TimeoutSeconds $bootTimeout -ErrorAction Stop
        (Get-BootCount 'src') | Should -Be 2
        $null = Stop-MyVm -Name 'src' -TimeoutSeconds 120 -ErrorAction Stop
    }

    It 'the full copy boots with its own MAC address and the source''s data (boot counter 2)' {
        $copy = Start-MyVm -Name 'full' -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        (Get-BootCount 'full') | Should -Be 2
        $guestMac = Invoke-MyHvGuestCommand -HomePath $vmHome -Name 'full' -Command 'cat /sys/class/net/eth0/address'
        $guestMac | Should -Be $copy.MacAddress
        $guestMac | Should -Not -Be (Get-MyVm -Name 'src').MacAddress
        [System.IO.File]::ReadAllText("/proc/$($copy.Pid)/cmdline").Replace([char] 0, ' ') | Should -BeLike "*mac=$($copy.MacAddress)*"
        $null = Stop-MyVm -Name 'full' -TimeoutSeconds 120 -ErrorAction Stop
    }

    It 'the linked copy boots from the frozen copy: the source''s later boot is not in it (boot counter 2, not 3)' {
        $null = Start-MyVm -Name 'lnk' -Wait -TimeoutSeconds $bootTimeout -ErrorAction Stop
        (Get-BootCount 'lnk') | Should -Be 2
        $null = Stop-MyVm -Name 'lnk' -TimeoutSeconds 120 -ErrorAction Stop
        # The frozen copy was not written; the overlay took the guest's writes.
        (& stat -c '%a' -- (Join-Path $vmHome 'vms/lnk/base.qcow2')) | Should -Be '400'
        (Get-FileHash (Join-Path $vmHome 'vms/lnk/base.qcow2')).Hash | Should -Not -Be (Get-FileHash (Join-Path $vmHome 'vms/src/disk.qcow2')).Hash
    }

    It 'refuses a taken name and a pattern that reaches several VMs' {
        $err = $null
        Copy-MyVm -Name 'src' -NewName 'full' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
        { Copy-MyVm -Name '*' -NewName 'many' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmName,MyHypervisor.PowerShell.Commands.CopyMyVmCommand'
        Get-MyVm -Name 'many' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Copy-MyVm fail points' {
    BeforeAll {
        # Settle lock files and state for every VM, so the snapshot only changes if a copy leaves something.
        $null = Get-MyVm
        $script:before = Get-HomeSnapshot
    }

    It 'clone.<Step>=<Action> leaves everything as before' -ForEach $cases {
        $env:MYHV_FAILPOINTS = "clone.$Step=$Action"
        try {
            if ($Action -eq 'error') {
                $err = $null
                Copy-MyVm -Name 'src' -NewName 'fp' -ErrorVariable err -ErrorAction SilentlyContinue
                @($err).Count | Should -Be 1
                $err[0].FullyQualifiedErrorId | Should -Be 'StateWriteFailed,MyHypervisor.PowerShell.Commands.CopyMyVmCommand'
                $err[0].Exception.Message | Should -BeLike "*failed at step '$Step'*fail point 'clone.$Step'*"
            }
            else {
                $run = Invoke-MyHvChild -ScriptBlock { Copy-MyVm -Name 'src' -NewName 'fp' -Linked; 'not killed' } `
                    -Environment @{ MYHV_HOME = $vmHome; MYHV_FAILPOINTS = "clone.$Step=kill"; MYHV_ACCEL = 'tcg' }
                $run.ExitCode | Should -Be 137 -Because "the fail point kills the process (output: $($run.Output -join ' | '))"
                $run.Result | Should -BeNullOrEmpty
                # The dead copy's journal is left; the next command rolls it back before it lists anything.
                @(Get-ChildItem -LiteralPath (Join-Path $vmHome 'vms') -Force -Filter '.clone-fp.journal') | Should -Not -BeNullOrEmpty
            }
        }
        finally { $env:MYHV_FAILPOINTS = $null }
        @(Get-MyVm | ForEach-Object Name) | Should -Not -Contain 'fp'
        $after = Get-HomeSnapshot
        $after | Should -Be $before
        Get-MyHvLeftover -HomePath $vmHome | Should -BeNullOrEmpty
    }

    It 'a copy without fail points still works afterwards, and Remove-MyVm takes it away' {
        $copy = Copy-MyVm -Name 'src' -NewName 'fp' -Linked -PassThru -ErrorAction Stop
        $copy.Name | Should -Be 'fp'
        Remove-MyVm -Name 'fp' -Confirm:$false -ErrorAction Stop
        $after = Get-HomeSnapshot
        $after | Should -Be $before
    }
}
