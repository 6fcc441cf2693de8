<#
Whole-disk images (-Image a folder whose image.json says "Boot": "Firmware" and names a
disk.qcow2 with its own boot loader), built by the suite itself with
New-MyVmImage -Format WholeDisk (mmdebstrap, then an MBR-partitioned disk with SYSLINUX on a FAT
boot partition; cached by recipe hash, so only the first run pays the build), booted under TCG
through QEMU's firmware (SeaBIOS) with the NoCloud seed attached. One VM, shared by the cases.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-MyHvTestModule | Out-Null
    $script:testHome = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'
    $ProgressPreference = 'SilentlyContinue'
    $tools = 'mmdebstrap', 'sfdisk', 'mkfs.vfat', 'mcopy', 'syslinux', 'qemu-img'
    $script:ok = ((& id -u) -eq '0') -and
        @($tools | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
    if (-not $script:ok) { return }

    $sw = [Diagnostics.Stopwatch]::StartNew()
    $script:image = New-MyVmImage -Name 'debian-wholedisk' -Format WholeDisk -ErrorAction Stop
    Write-Host "Whole-disk image ready in $([int]$sw.Elapsed.TotalSeconds) s"
    $null = New-MyVm -Name 'wd' -Image 'debian-wholedisk' -MemoryMiB 512 -HostName 'wd-seed-host'
    $sw.Restart()
    $script:vm = Start-MyVm -Name 'wd' -Wait -TimeoutSeconds 1200 -PassThru
    Write-Host "Booted through the firmware to ready in $([int]$sw.Elapsed.TotalSeconds) s"
}

AfterAll {
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    Assert-MyHvNoLeftovers -Home $script:testHome
}

Describe 'A whole-disk image booted through the firmware' {
    It 'is a partitioned qcow2 disk with its own boot loader, and image.json says so' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, fdisk, dosfstools, mtools, syslinux, qemu-utils' -Condition $script:ok
        $manifest = Get-Content -Raw (Join-Path $script:image.Path 'image.json') | ConvertFrom-Json
        $manifest.Boot | Should -Be 'Firmware'
        $manifest.Disk | Should -Be 'disk.qcow2'
        $manifest.PSObject.Properties.Name | Should -Not -Contain 'Kernel'
        Test-Path (Join-Path $script:image.Path 'vmlinuz') | Should -BeFalse
        (& qemu-img info --output json (Join-Path $script:image.Path 'disk.qcow2') | ConvertFrom-Json).format | Should -Be 'qcow2'
    }

    It 'boots through SeaBIOS and SYSLINUX, no kernel given to QEMU, the seed attached, to ready' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, fdisk, dosfstools, mtools, syslinux, qemu-utils' -Condition $script:ok
        $script:vm.Status | Should -Be 'Running'
        $arguments = [IO.File]::ReadAllText("/proc/$($script:vm.Pid)/cmdline").Split([char] 0)
        $arguments | Should -Not -Contain '-kernel'
        ($arguments -match 'bootindex=0') | Should -Not -BeNullOrEmpty
        ($arguments -match 'seed\.img') | Should -Not -BeNullOrEmpty
        # -Wait returns once the guest agent answers; the guest's own ready line follows at multi-user.target.
        $deadline = [DateTime]::UtcNow.AddSeconds(600)
        $console = @(Get-MyVmConsole -Name 'wd')
        while ($console -notcontains 'myhv-guest: ready' -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Seconds 2
            $console = @(Get-MyVmConsole -Name 'wd')
        }
        ($console -match '^SYSLINUX ') | Should -Not -BeNullOrEmpty -Because 'the disk''s own boot loader ran'
        $console | Should -Contain 'myhv-guest: ready'
    }

    It 'is a Debian guest on its second partition with the host name from the NoCloud seed' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, fdisk, dosfstools, mtools, syslinux, qemu-utils' -Condition $script:ok
        $out = (Invoke-MyVmCommand -Name 'wd' -Command 'hostname; findmnt -n -o SOURCE /; . /etc/os-release; echo "os=$ID-$VERSION_ID"' -ErrorOnNonZeroExit).StdOut.Trim() -split "`n"
        $out | Should -Be @('wd-seed-host', '/dev/vda2', 'os=debian-12')
    }

    It 'refuses at start what would travel on the kernel command line, before anything is created' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, fdisk, dosfstools, mtools, syslinux, qemu-utils' -Condition $script:ok
        $null = New-MyVm -Name 'wd-args' -Image 'debian-wholedisk' -KernelArguments 'quiet'
        $err = $null
        try { Start-MyVm -Name 'wd-args' -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*'
        $err.Exception.Message | Should -Match 'whole disk'
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'run/wd-args') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'vms/wd-args/disk.qcow2') | Should -BeFalse
    }

    It 'stops like any VM' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, fdisk, dosfstools, mtools, syslinux, qemu-utils' -Condition $script:ok
        (Stop-MyVm -Name 'wd' -TimeoutSeconds 120 -PassThru).Status | Should -Be 'Stopped'
    }
}

Describe 'A hand-written whole-disk image.json' {
    It 'is refused with ImageNotFound when <Case>' -ForEach @(
        @{ Case = 'Boot is not Firmware'; Json = '{ "Disk": "disk.qcow2", "DiskFormat": "qcow2", "Boot": "Bios" }'; Match = 'only value is "Firmware"' }
        @{ Case = 'its disk is missing'; Json = '{ "Disk": "disk.qcow2", "DiskFormat": "qcow2", "Boot": "Firmware" }'; Match = 'incomplete' }
        @{ Case = 'it names no kernel and no firmware boot'; Json = '{ "Disk": "disk.qcow2" }'; Match = 'must name Kernel and Disk' }
        @{ Case = 'its disk format is not raw or qcow2'; Json = '{ "Disk": "disk.qcow2", "DiskFormat": "vmdk,file=x", "Boot": "Firmware" }'; Match = 'DiskFormat' }
    ) {
        $folder = Join-Path $script:testHome "img-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -ItemType Directory -Path $folder
        Set-Content -LiteralPath (Join-Path $folder 'image.json') -Value $Json
        $err = $null
        try { New-MyVm -Name 'wd-bad' -Image $folder -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ImageNotFound,*'
        $err.Exception.Message | Should -Match ([regex]::Escape($Match))
        Get-MyVm -Name 'wd-bad' -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}
