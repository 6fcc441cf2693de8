# Runner: host-exclusive
# Orphans: artifacts of a VM whose record is gone are found from the artifacts themselves and
# removed, and nothing else is touched. In home A a VM with a read-only volume (QEMU's C virtiofsd:
# its processes, its bind mount, its lock file under /run/virtiofsd) and a bridge (a TAP device on
# a bridge inside a network namespace this suite makes) runs next to a plain VM; vms/<name> of
# the first is deleted by hand. Home B has a running VM whose folder is deleted too. Everything
# runs in one child pwsh inside the namespace (the TAP device and the bind mount live there); it
# reports what it saw as JSON, read from /proc, /sys and mountinfo, never through the module.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:homeB = New-MyHvTestHome
    $script:homeA = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'
    $script:netns = $null
    $script:r = $null
    $script:ready = (Get-Command qemu-system-x86_64, ip -ErrorAction Ignore).Count -eq 2 -and ((& id -u) -eq '0') -and
        (Test-Path /usr/lib/qemu/virtiofsd)
    if (-not $script:ready) { return }

    $script:netns = New-MyHvTestNamespace -Bridge txbr0 -Address '' -Name ("mhor" + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $script:share = New-MyHvTestDir -Prefix 'mhOr'
    $run = Invoke-MyHvChild -Netns $script:netns -TimeoutSeconds 600 -Environment @{
        MYHV_HOME = $script:homeA; MYHV_ACCEL = 'tcg'; OR_HOME_A = $script:homeA; OR_HOME_B = $script:homeB; OR_SHARE = $script:share
    } -ScriptBlock {
        $ErrorActionPreference = 'Stop'
        $homeA = $env:OR_HOME_A; $homeB = $env:OR_HOME_B
        $out = [ordered]@{}
        function Get-Residue([string] $HomePath, [string] $Name) {
            # What exists of one VM's run, read without the module.
            $run = "$HomePath/run/$Name"
            [ordered]@{
                Processes = @(Get-MyHvProcess -Needle "$run/" | ForEach-Object { "$($_.Pid) $($_.Program)" })
                Mounts    = @([IO.File]::ReadAllLines('/proc/self/mountinfo') | Where-Object { $_.Split(' ')[4].StartsWith("$run/") } | ForEach-Object { $_.Split(' ')[4] })
                LockFiles = @(Get-MyHvVirtiofsdLockFile -HomePath "$HomePath/run/$Name")
                RunFolder = Test-Path -LiteralPath $run
            }
        }
        function Get-Orphans([switch] $AllHomes) {
            @(Get-MyVmOrphan -AllHomes:$AllHomes | ForEach-Object {
                    [ordered]@{ Kind = "$($_.Kind)"; Target = $_.Target; Home = $_.Home; VmName = $_.VmName; Pid = $_.Pid; Current = $_.IsCurrentHome; Reason = $_.Reason } })
        }

        # Home B: a VM whose folder is lost (its QEMU is B's orphan).
        $env:MYHV_HOME = $homeB
        $null = New-MyVm -Name other -Image tiny
        Start-MyVm -Name other
        $out.OtherPid = [int] (Get-MyVm -Name other).Pid
        Remove-Item -LiteralPath "$homeB/vms/other" -Recurse -Force

        # Home A: the VM that loses its folder, and one that keeps its record.
        $env:MYHV_HOME = $homeA
        $null = New-MyVm -Name lost -Image tiny -Network Bridge -Bridge txbr0 -IPAddress 10.77.0.10/24 -Volume @{ Path = $env:OR_SHARE; Tag = 'data'; ReadOnly = $true }
        $null = New-MyVm -Name keep -Image tiny
        Start-MyVm -Name lost
        Start-MyVm -Name keep
        $out.Tap = (Get-MyVm -Name lost).TapDevice
        $out.KeepPid = [int] (Get-MyVm -Name keep).Pid
        $out.Before = Get-Residue $homeA 'lost'
        Remove-Item -LiteralPath "$homeA/vms/lost" -Recurse -Force

        $out.Listed = Get-Orphans
        $out.HostCheck = Test-MyVmHost | Where-Object Check -eq 'Orphans' | Select-Object Ok, Detail, Remedy
        $out.ListedAll = Get-Orphans -AllHomes

        $null = Repair-MyVm -Orphans -WhatIf
        $out.AfterWhatIf = [ordered]@{ Listed = Get-Orphans; Residue = Get-Residue $homeA 'lost'; Tap = Test-Path "/sys/class/net/$($out.Tap)" }

        $verbose = Repair-MyVm -Orphans -Verbose -Confirm:$false 4>&1
        $out.Removals = @($verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | ForEach-Object { [ordered]@{ Kind = "$($_.Kind)"; Target = $_.Target; Result = "$($_.Result)"; Problem = $_.Problem } })
        $out.Narration = @($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)

        $out.After = [ordered]@{
            Listed = Get-Orphans; Residue = Get-Residue $homeA 'lost'; Tap = Test-Path "/sys/class/net/$($out.Tap)"
            HostCheck = Test-MyVmHost | Where-Object Check -eq 'Orphans' | Select-Object Ok, Detail
            KeepStatus = "$((Get-MyVm -Name keep).Status)"; KeepPidAlive = Test-MyHvProcessAlive -ProcessId $out.KeepPid
            OtherAlive = Test-MyHvProcessAlive -ProcessId $out.OtherPid
        }

        # Home B cleans up its own orphan the same way.
        $env:MYHV_HOME = $homeB
        $out.OtherRemoval = @(Repair-MyVm -Orphans -Confirm:$false | ForEach-Object { "$($_.Kind) $($_.Result)" })
        $out.OtherAfter = [ordered]@{ Alive = Test-MyHvProcessAlive -ProcessId $out.OtherPid; Listed = Get-Orphans }
        $env:MYHV_HOME = $homeA
        Remove-MyVm -Name keep -Force
        $out
    }
    $script:r = $run.Result
    $script:childOutput = $run.Output -join "`n"
}

AfterAll {
    if ($script:netns) {
        # Only if the scenario stopped half-way: each home removes its own orphans, inside the namespace.
        $null = Invoke-MyHvChild -Netns $script:netns -Environment @{ OR_HOMES = "$($script:homeA):$($script:homeB)" } -ScriptBlock {
            foreach ($h in $env:OR_HOMES.Split(':')) {
                $env:MYHV_HOME = $h
                Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue
                $null = Repair-MyVm -Orphans -Confirm:$false -ErrorAction SilentlyContinue
            }
            $true
        }
        Remove-MyHvTestNamespace -Name $script:netns
    }
    Assert-MyHvNoLeftovers -Home $script:homeA
    Assert-MyHvNoLeftovers -Home $script:homeB
    foreach ($h in $script:homeA, $script:homeB) { Remove-Item -LiteralPath $h -Recurse -Force -ErrorAction SilentlyContinue }
    if ($script:share) { Remove-Item -LiteralPath $script:share -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Orphans of a VM whose folder was deleted by hand' {
    BeforeEach {
        Skip-UnlessPrerequisite -Name 'root, iproute2, qemu-system-x86_64 and virtiofsd' -Condition $script:ready
        if (-not $script:r) { throw "The scenario did not finish:`n$($script:childOutput)" }
    }

    It 'lists QEMU, every virtiofsd, the TAP device, the mount, the lock file and the runtime folder' {
        $r = $script:r
        # Precondition: the run had every kind of artifact.
        @($r.Before.Processes).Count | Should -BeGreaterOrEqual 2
        @($r.Before.Mounts).Count | Should -Be 1
        @($r.Before.LockFiles).Count | Should -Be 1
        $listed = @($r.Listed)
        $listed | ForEach-Object { $_.Home | Should -Be $script:homeA; $_.VmName | Should -Be 'lost'; $_.Reason | Should -Not -BeNullOrEmpty }
        # Exactly the processes that run for it (each found by its mark, not its command line).
        @($listed | Where-Object Kind -eq 'Process' | ForEach-Object Pid | Sort-Object) |
            Should -Be @($r.Before.Processes | ForEach-Object { [int] ($_ -split ' ')[0] } | Sort-Object)
        @($listed | Where-Object Kind -eq 'Process' | Where-Object Target -like 'qemu-system-x86_64*').Count | Should -Be 1
        @($listed | Where-Object Kind -eq 'Process' | Where-Object Target -like 'virtiofsd*').Count | Should -Be (@($r.Before.Processes).Count - 1)
        @($listed | Where-Object Kind -eq 'TapDevice' | ForEach-Object Target) | Should -Be @($r.Tap)
        @($listed | Where-Object Kind -eq 'Mount' | ForEach-Object Target) | Should -Be @($r.Before.Mounts)
        @($listed | Where-Object Kind -eq 'HelperLockFile' | ForEach-Object Target) | Should -Be @($r.Before.LockFiles)
        @($listed | Where-Object Kind -eq 'RuntimeFolder' | ForEach-Object Target) | Should -Be @("$($script:homeA)/run/lost")
        # Nothing of the VM that kept its record.
        @($listed | Where-Object { $_.VmName -ne 'lost' -or $_.Pid -eq $r.KeepPid }) | Should -BeNullOrEmpty
    }

    It 'is reported by Test-MyVmHost with the remedy' {
        $script:r.HostCheck.Ok | Should -BeFalse
        $script:r.HostCheck.Detail | Should -Match "^$(@($script:r.Listed).Count) artifact"
        $script:r.HostCheck.Remedy | Should -Match 'Repair-MyVm -Orphans'
    }

    It "lists another home's orphan only with -AllHomes" {
        @($script:r.Listed | Where-Object Home -eq $script:homeB) | Should -BeNullOrEmpty
        $other = @($script:r.ListedAll | Where-Object Home -eq $script:homeB)
        $other.Count | Should -Be 1
        $other[0].Kind | Should -Be 'Process'
        $other[0].Pid | Should -Be $script:r.OtherPid
        $other[0].VmName | Should -Be 'other'
        $other[0].Current | Should -BeFalse
    }

    It 'changes nothing with -WhatIf' {
        $w = $script:r.AfterWhatIf
        ($w.Listed | ConvertTo-Json -Depth 4) | Should -Be ($script:r.Listed | ConvertTo-Json -Depth 4)
        ($w.Residue | ConvertTo-Json) | Should -Be ($script:r.Before | ConvertTo-Json)
        $w.Tap | Should -BeTrue
    }

    It 'removes every orphan of the home, narrating each, and leaves nothing of the lost VM' {
        $r = $script:r
        @($r.Removals).Count | Should -Be @($r.Listed).Count
        $r.Removals | ForEach-Object { $_.Result | Should -BeIn 'Removed', 'AlreadyGone' -Because "$($_.Kind) $($_.Target): $($_.Problem)" }
        # Processes first, the runtime folder last.
        $r.Removals[0].Kind | Should -Be 'Process'
        $r.Removals[-1].Kind | Should -Be 'RuntimeFolder'
        foreach ($o in $r.Listed) { @($r.Narration | Where-Object { $_.StartsWith("Orphan $($o.Kind) $($o.Target):") }).Count | Should -Be 1 }
        @($r.After.Listed) | Should -BeNullOrEmpty
        @($r.After.Residue.Processes) | Should -BeNullOrEmpty
        @($r.After.Residue.Mounts) | Should -BeNullOrEmpty
        @($r.After.Residue.LockFiles) | Should -BeNullOrEmpty
        $r.After.Residue.RunFolder | Should -BeFalse
        $r.After.Tap | Should -BeFalse
        $r.After.HostCheck.Ok | Should -BeTrue
    }

    It "leaves the VM with a record and the other home's orphan running" {
        $script:r.After.KeepStatus | Should -Be 'Running'
        $script:r.After.KeepPidAlive | Should -BeTrue
        $script:r.After.OtherAlive | Should -BeTrue
        # Its own home removes it.
        $script:r.OtherRemoval | Should -Be @('Process Removed', 'RuntimeFolder Removed')
        $script:r.OtherAfter.Alive | Should -BeFalse
        @($script:r.OtherAfter.Listed) | Should -BeNullOrEmpty
    }
}
