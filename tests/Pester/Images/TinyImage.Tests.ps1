<#
New-MyVmImage -Name tiny: the default image's recipe, built by the module in the same transaction
as a Debian image (ledger, image.* fail points, recipe-hash cache), into a per-user image folder
of this suite's own (XDG_DATA_HOME), so the host's default tiny image is never touched. No root
needed; each build takes seconds (the kernel package is cached in ~/.cache/myhypervisor/debs).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:module = Import-MyHvTestModule
    $script:testHome = New-MyHvTestHome
    $script:savedData = $env:XDG_DATA_HOME
    $env:XDG_DATA_HOME = New-MyHvTestDir -Prefix 'mhD'
    $env:MYHV_ACCEL = 'tcg'
    $script:folder = [MyHypervisor.Core.Configuration.ImageSearchPath]::UserImageFolder()
    $ProgressPreference = 'SilentlyContinue'
    $script:first = New-MyVmImage -Name tiny -ErrorAction Stop
}

AfterAll {
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    Remove-Item -LiteralPath $env:XDG_DATA_HOME -Recurse -Force -ErrorAction Ignore
    $env:XDG_DATA_HOME = $script:savedData
    Assert-MyHvNoLeftovers -Home $script:testHome
}

Describe 'New-MyVmImage -Name tiny' {
    It 'builds the tiny image (kernel, initramfs with the agent, data disk) into the per-user image folder' {
        $script:first.Path | Should -Be (Join-Path $script:folder 'tiny')
        $script:first.HasGuestAgent | Should -BeTrue
        $script:first.KernelVersion | Should -Match 'cloud-amd64$'
        $manifest = Get-Content -Raw (Join-Path $script:first.Path 'image.json') | ConvertFrom-Json
        $manifest.CommandLine | Should -Be 'console=ttyS0 panic=-1 quiet'
        $manifest.GuestAgent | Should -BeTrue
        $manifest.DiskVersion | Should -Be 1
        $manifest.BuiltBy | Should -Be 'New-MyVmImage'
        $manifest.RecipeHash | Should -Match '^[0-9a-f]{64}$'
        $files = @(& busybox sh -c 'zcat "$1" | busybox cpio -t 2>/dev/null' sh (Join-Path $script:first.Path 'initrd.img'))
        foreach ($f in 'init', 'bin/busybox', 'usr/sbin/qemu-ga', 'etc/acpi/powerbtn', 'sbin/shutdown', 'lib/modules/virtio_blk.ko', 'lib/modules/virtiofs.ko') {
            $files | Should -Contain $f
        }
        # Reproducible data disk: the same bytes the image has always had (VMs keep overlays on it).
        (Get-FileHash -Algorithm SHA256 (Join-Path $script:first.Path 'rootfs.ext4')).Hash |
            Should -Be 'EE042C8AAB592F161F45BF528D65A54357A012C86B704D8C155C5CAE14CDD062'
    }

    It 'boots to ready with the guest agent, the data disk at /data and the power button' {
        $vm = New-MyVm -Name 't1' -Image tiny | Start-MyVm -Wait -TimeoutSeconds 300 -PassThru
        $vm.Status | Should -Be 'Running'
        (Invoke-MyVmCommand -Name 't1' -Command 'cat /data/boot-count; . /etc/os-release; echo $ID').StdOut.Trim() -split "`n" |
            Should -Be @('1', 'myhv-tiny')
        (Stop-MyVm -Name 't1' -PassThru).StopMethod | Should -Be 'GuestPowerOff'
    }

    It 'is instant for the same recipe; -Force rebuilds it keeping the very disk file VMs sit on' {
        $disk = Join-Path $script:first.Path 'rootfs.ext4'
        $inode = (& stat -c %i $disk)
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $again = New-MyVmImage -Name tiny
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 30
        $again.RecipeHash | Should -Be $script:first.RecipeHash
        $again.Built | Should -Be $script:first.Built
        # t1 (defined on tiny) does not stop a rebuild: the disk is kept, so its overlay stays valid.
        $forced = New-MyVmImage -Name tiny -Force
        $forced.Built | Should -BeGreaterOrEqual $script:first.Built
        (& stat -c %i $disk) | Should -Be $inode
        (Start-MyVm -Name 't1' -Wait -TimeoutSeconds 300 -PassThru).Status | Should -Be 'Running'
        (Invoke-MyVmCommand -Name 't1' -Command 'cat /data/boot-count').StdOut.Trim() | Should -Be '2'
        Stop-MyVm -Name 't1' -Force
    }

    It 'refuses Debian-only parameters with InvalidVmSpec before anything is created' {
        $err = $null
        try { New-MyVmImage -Name tiny -Package curl -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*'
        $err.Exception.Message | Should -Match '-Recipe Debian'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'tiny') | Should -BeNullOrEmpty
    }

    It 'rolls back at fail point <Point>=error, leaving no partial image' -ForEach @(
        @{ Point = 'image.kernel' }, @{ Point = 'image.disk' }
    ) {
        $step = $Point.Split('.')[1]
        $env:MYHV_FAILPOINTS = "$Point=error"
        $err = $null
        try { New-MyVmImage -Name 'tfail' -Recipe Tiny -Force -ErrorAction Stop } catch { $err = $_ } finally { $env:MYHV_FAILPOINTS = $null }
        # The contract has no id for a failed build: PrerequisiteMissing, naming the step.
        $err.FullyQualifiedErrorId | Should -BeLike 'PrerequisiteMissing,*'
        $err.Exception.Message | Should -Match "step '$step'"
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'tfail') | Should -BeNullOrEmpty
        Get-MyVmImage -Name 'tfail' -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'recovers a build killed (SIGKILL) at fail point image.rootfs=kill; the next build succeeds' {
        $run = Invoke-MyHvChild -Environment @{ MYHV_FAILPOINTS = 'image.rootfs=kill' } -Body 'New-MyVmImage -Name tkill -Recipe Tiny -Force | Out-Null; $r.Survived = $true'
        $run.Result | Should -BeNullOrEmpty -Because 'the child killed itself'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'tkill') | Should -Not -BeNullOrEmpty -Because 'the killed build left its ledger and work folder'
        Get-MyVmImage -Name 'tkill' -ErrorAction Ignore | Should -BeNullOrEmpty
        (New-MyVmImage -Name 'tkill' -Recipe Tiny -Force).Name | Should -Be 'tkill'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'tkill') | Should -BeNullOrEmpty
        Remove-MyVmImage -Name 'tkill' -Confirm:$false
    }
}
