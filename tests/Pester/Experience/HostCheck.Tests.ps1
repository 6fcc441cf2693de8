# Issue 6, point 7: Test-MyVmHost returns one object per check (Qemu, QemuImg, DefaultImage,
# Accelerator, Virtiofsd, TapPermission, Bridge), each with Ok and, when it fails, a Remedy; -Quiet
# returns one bool. Checks are made to fail on purpose: a PATH without QEMU (the module looks
# programs up on PATH at each call, so this process's PATH is switched for the duration), an empty
# image search path. Start-MyVm then fails with PrerequisiteMissing pointing to Test-MyVmHost, and
# New-MyVm warns that way. No VM boots here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:checkNames = 'Qemu', 'QemuImg', 'DefaultImage', 'Accelerator', 'Virtiofsd', 'VolumeTools', 'TapPermission', 'Bridge', 'Orphans', 'CloudHypervisor'

    # A PATH with qemu-img but no qemu-system-x86_64 (and nothing else).
    $script:noQemuPath = Join-Path $TestDrive 'bin'
    $null = New-Item -ItemType Directory -Path $noQemuPath
    $qemuImg = (Get-Command -Name qemu-img -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $noQemuPath 'qemu-img') -Target $qemuImg

    function Invoke-WithoutQemu {
        param([scriptblock] $Script)
        $saved = $env:PATH
        $env:PATH = $noQemuPath
        try { & $Script } finally { $env:PATH = $saved }
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Test-MyVmHost on this host' {
    BeforeAll {
        $script:checks = @(Test-MyVmHost -ErrorAction Stop)
    }

    It 'returns one HostCheck per check, in a stable order' {
        $checks | ForEach-Object { $_ | Should -BeOfType ([MyHypervisor.Core.Host.HostCheck]) }
        $checks.Check | Should -Be $checkNames
    }

    It 'gives each check an Ok flag and a detail, and a remedy exactly for the failures' {
        foreach ($check in $checks) {
            $check.Ok | Should -BeOfType ([bool])
            $check.Detail | Should -Not -BeNullOrEmpty
            if ($check.Ok) { $check.Remedy | Should -BeNullOrEmpty -Because "$($check.Check) passed" }
            else { $check.Remedy | Should -Not -BeNullOrEmpty -Because "$($check.Check) failed: $($check.Detail)" }
        }
    }

    It 'finds what this host really has: QEMU with its version, qemu-img, the tiny image, TCG' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $byName = @{}; $checks | ForEach-Object { $byName[$_.Check] = $_ }
        $byName.Qemu.Ok | Should -BeTrue
        $byName.Qemu.Detail | Should -Match 'QEMU emulator version \d+\.\d+'
        $byName.QemuImg.Ok | Should -BeTrue
        $byName.DefaultImage.Ok | Should -BeTrue
        $byName.DefaultImage.Detail | Should -Match "'tiny' at /"
        $byName.Accelerator.Ok | Should -BeTrue
        $byName.Accelerator.Detail | Should -Match '^tcg: MYHV_ACCEL=tcg'
        $byName.Bridge.Ok | Should -Be ([bool] @(Get-ChildItem /sys/class/net -Directory -ErrorAction Ignore | Where-Object { Test-Path (Join-Path $_.FullName 'bridge') }).Count)
    }

    It '-Quiet returns a single bool: whether every check passed' {
        $quiet = @(Test-MyVmHost -Quiet)
        $quiet.Count | Should -Be 1
        $quiet[0] | Should -BeOfType ([bool])
        $quiet[0] | Should -Be (-not ($checks.Ok -contains $false))
    }
}

Describe 'Without QEMU on PATH' {
    BeforeAll {
        $script:missing = Invoke-WithoutQemu { @(Test-MyVmHost) }
        $script:byName = @{}; $missing | ForEach-Object { $byName[$_.Check] = $_ }
    }

    It 'the Qemu check fails with the package to install' {
        $missing.Check | Should -Be $checkNames
        $byName.Qemu.Ok | Should -BeFalse
        $byName.Qemu.Detail | Should -Match 'qemu-system-x86_64 not found on PATH'
        $byName.Qemu.Remedy | Should -Be 'apt-get install qemu-system-x86'
    }

    It 'the other checks are judged on their own (qemu-img is still found)' {
        $byName.QemuImg.Ok | Should -BeTrue
        $byName.QemuImg.Detail | Should -Be (Join-Path $noQemuPath 'qemu-img')
        $byName.DefaultImage.Ok | Should -BeTrue
        $byName.Accelerator.Ok | Should -BeFalse -Because 'there is nothing to probe with'
        $byName.Accelerator.Remedy | Should -Match 'install QEMU'
    }

    It '-Quiet is $false' {
        Invoke-WithoutQemu { Test-MyVmHost -Quiet } | Should -BeExactly $false
    }

    It 'shows the remedy in the default table' {
        $text = $missing | Out-String -Width 120
        $text | Should -Match '(?m)^Qemu\s+False\s+.*apt-get install qemu-system-x86'
    }

    It 'Start-MyVm fails with PrerequisiteMissing that points to Test-MyVmHost, and changes nothing' {
        $null = New-MyVm -Name 'hq' -WarningAction SilentlyContinue -ErrorAction Stop
        $err = @(Invoke-WithoutQemu { Start-MyVm -Name 'hq' -ErrorVariable e -ErrorAction SilentlyContinue; $e })
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'PrerequisiteMissing,MyHypervisor.PowerShell.Commands.StartMyVmCommand'
        $err[0].CategoryInfo.Category | Should -Be 'NotInstalled'
        $err[0].TargetObject | Should -Be 'hq'
        $err[0].Exception.Message | Should -Match 'Test-MyVmHost'
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'Run Test-MyVmHost'
        $vm = Get-MyVm -Name 'hq'
        $vm.Status | Should -Be 'Stopped'
        Test-Path -LiteralPath (Join-Path $vmHome 'run/hq') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/hq/disk.qcow2') | Should -BeFalse
    }

    It 'Start-MyVm -ErrorAction Stop: the error is caught by id' {
        $id = $null
        try { Invoke-WithoutQemu { Start-MyVm -Name 'hq' -ErrorAction Stop } } catch { $id = $_.FullyQualifiedErrorId }
        $id | Should -BeLike 'PrerequisiteMissing,*'
    }

    It 'New-MyVm still defines the VM, and warns that Start-MyVm will fail, pointing to Test-MyVmHost' {
        $vm = Invoke-WithoutQemu { New-MyVm -Name 'hw' -WarningVariable w -WarningAction SilentlyContinue -ErrorAction Stop; $w }
        $created = @($vm | Where-Object { $_ -is [MyHypervisor.Core.Vms.VmInfo] })
        $said = @($vm | Where-Object { $_ -is [System.Management.Automation.WarningRecord] })
        $created.Name | Should -Be 'hw'
        $said.Count | Should -Be 1
        $said[0].Message | Should -Match 'PrerequisiteMissing'
        $said[0].Message | Should -Match 'Test-MyVmHost'
    }

    It 'New-MyVm does not warn when QEMU is there' {
        $warnings = $null
        $null = New-MyVm -Name 'hok' -WarningVariable warnings -ErrorAction Stop
        $warnings | Should -BeNullOrEmpty
    }
}

Describe 'Without the default image' {
    It 'the DefaultImage check fails and says how to build it; Accelerator cannot probe' {
        $saved = $env:XDG_DATA_HOME, $env:MYHV_IMAGE_PATH, $env:HOME
        $env:XDG_DATA_HOME = Join-Path $TestDrive 'no-data'
        $env:MYHV_IMAGE_PATH = $null
        try {
            Skip-UnlessPrerequisite -Name 'no system-wide tiny image' -Condition { -not (Test-Path '/usr/local/share/myhypervisor/images/tiny/image.json') }
            $checks = @(Test-MyVmHost)
        }
        finally { $env:XDG_DATA_HOME, $env:MYHV_IMAGE_PATH, $env:HOME = $saved }
        $image = $checks | Where-Object Check -EQ 'DefaultImage'
        $image.Ok | Should -BeFalse
        $image.Detail | Should -Match "No guest image named 'tiny'"
        $image.Remedy | Should -Match 'build\.ps1 -Task Bootstrap'
        ($checks | Where-Object Check -EQ 'Accelerator').Ok | Should -BeFalse
    }
}
