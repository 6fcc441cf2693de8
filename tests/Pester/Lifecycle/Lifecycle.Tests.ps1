# Runner: host-exclusive
# Issue 3, acceptance 1: a real guest on QEMU through its whole life. Create, start with -Wait,
# Running with a pid, real stats, the readiness line, a graceful stop (the guest powered itself
# off), Stopped, a restart that finds the data the first boot wrote on the same disk, a forced
# stop, removal, and nothing of the VM left. Also the README pipeline and -Image as a folder path.
# MYHV_ACCEL is left as the user would have it (auto by default): this suite covers the default path.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:vmHome = New-MyHvTestHome
    $script:bootTimeout = 180   # TCG boots take ~3 s alone, much longer on a loaded machine

    function Get-QemuExecutable {
        param([int] $ProcessId)
        try { [System.IO.Path]::GetFileName((Get-Item -LiteralPath "/proc/$ProcessId/exe" -Force).Target) } catch { $null }
    }

    function Get-OverlayInfo {
        # -U: QEMU holds a write lock on the disk of a running VM.
        param([string] $Path)
        $json = & qemu-img info -U --output=json -- $Path
        if ($LASTEXITCODE -ne 0) { throw "qemu-img info $Path failed" }
        $json | ConvertFrom-Json
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
    Remove-Item -LiteralPath $script:vmHome -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'A VM from creation to removal' {
    BeforeAll {
        $script:name = 'life'
        $script:vmDir = Join-Path $script:vmHome "vms/$script:name"
        $script:runDir = Join-Path $script:vmHome "run/$script:name"
        $script:lockFile = Join-Path $script:vmHome "locks/$script:name.lock"
        $script:disk = Join-Path $script:vmDir 'disk.qcow2'
    }

    It 'New-MyVm defines a stopped VM with its definition and state on disk' {
        $vm = New-MyVm -Name $name -Image tiny -Cpus 1 -MemoryMiB 256 -ErrorAction Stop

        $vm.Name | Should -Be $name
        $vm.Status | Should -Be 'Stopped'
        $vm.Pid | Should -BeNullOrEmpty
        $vm.Hypervisor | Should -Be 'qemu'
        $vm.Image | Should -Be 'tiny'
        $vm.Cpus | Should -Be 1
        $vm.MemoryMiB | Should -Be 256
        (Get-Content -Raw (Join-Path $vmDir 'definition.json') | ConvertFrom-Json).Name | Should -Be $name
        (Get-Content -Raw (Join-Path $vmDir 'state.json') | ConvertFrom-Json) | Should -Not -BeNullOrEmpty
        (Get-MyVm -Name $name -ErrorAction Stop).Status | Should -Be 'Stopped'
    }

    It 'Start-MyVm -Wait returns a Running VM whose pid is the live QEMU process' {
        $started = Start-MyVm -Name $name -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop

        $started.Status | Should -Be 'Running'
        $started.Pid | Should -BeGreaterThan 0
        $vm = Get-MyVm -Name $name -ErrorAction Stop
        $vm.Status | Should -Be 'Running'
        $vm.Pid | Should -Be $started.Pid
        $vm.Hypervisor | Should -Be 'qemu'
        $vm.Accelerator | Should -BeIn @('kvm', 'tcg')
        $vm.StartedAt | Should -Not -BeNullOrEmpty
        Get-QemuExecutable -ProcessId $vm.Pid | Should -Be 'qemu-system-x86_64'
        [System.IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline").Replace([char] 0, ' ') | Should -BeLike "*$runDir/*"
        Test-Path -LiteralPath (Join-Path $runDir 'api.sock') | Should -BeTrue
        $script:firstPid = $vm.Pid

        # The VM's own qcow2 overlay on the image's disk.
        $info = Get-OverlayInfo -Path $disk
        $info.format | Should -Be 'qcow2'
        $info.'backing-filename' | Should -BeLike '*/rootfs.ext4'
        $script:diskInode = Get-MyHvInode -Path $disk
        $script:diskInode | Should -Not -BeNullOrEmpty
    }

    It 'Get-MyVmConsole shows the readiness line and the first boot; -Tail gives the last lines' {
        $lines = @(Get-MyVmConsole -Name $name -ErrorAction Stop)

        $lines | Should -Contain 'myhv-guest: ready'
        $lines | Should -Contain 'myhv-guest: boot-count 1'
        $tail = @(Get-MyVmConsole -Name $name -Tail 2 -ErrorAction Stop)
        $tail.Count | Should -Be 2
        $tail | Should -Be @($lines | Select-Object -Last 2)
    }

    It 'Get-MyVmStats reports real, non-zero numbers of the running QEMU' {
        $stats = @(Get-MyVmStats -Name $name -ErrorAction Stop)
        $rssKiB = [long] ((Get-Content "/proc/$firstPid/status" | Where-Object { $_ -like 'VmRSS:*' }) -replace '\D', '')

        $stats.Count | Should -Be 1
        $s = $stats[0]
        $s.Name | Should -Be $name
        $s.Status | Should -Be 'Running'
        $s.Pid | Should -Be $firstPid
        $s.CpuSeconds | Should -BeGreaterThan 0
        $s.MemoryRssBytes | Should -BeGreaterThan 0
        $s.DiskReadBytes | Should -BeGreaterThan 0        # the guest mounted /data and read its counter
        $s.DiskWriteBytes | Should -BeGreaterThan 0       # ... and wrote the new one
        $s.Uptime | Should -BeGreaterThan ([TimeSpan]::Zero)
        # Real numbers of that process: RSS agrees with the kernel's, CPU time fits in its lifetime.
        $s.MemoryRssBytes / ($rssKiB * 1024) | Should -BeGreaterThan 0.5
        $s.MemoryRssBytes / ($rssKiB * 1024) | Should -BeLessThan 2
        $s.CpuSeconds | Should -BeLessOrEqual (($s.Uptime.TotalSeconds + 1) * [Environment]::ProcessorCount)
        # No TAP device (user networking): the network counters are 0.
        $s.NetRxBytes | Should -Be 0
        $s.NetTxBytes | Should -Be 0
    }

    It 'Stop-MyVm powers the guest off through ACPI: QEMU exits on its own, no quit or signal needed' {
        $all = @(Stop-MyVm -Name $name -PassThru -TimeoutSeconds 120 -Verbose -ErrorAction Stop 4>&1)
        $vm = @($all | Where-Object { $_ -is [MyHypervisor.Core.Vms.VmInfo] })
        $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)

        $vm.Count | Should -Be 1
        $vm[0].StopMethod | Should -Be 'GuestPowerOff'
        $vm[0].Status | Should -Be 'Stopped'
        $vm[0].Pid | Should -BeNullOrEmpty
        # The guest saw the power button and the kernel powered the machine off by itself.
        $console = @(Get-MyVmConsole -Name $name -ErrorAction Stop)
        $console | Should -Contain 'myhv-guest: power button, powering off'
        ($console -match 'reboot: Power down').Count | Should -Be 1
        # The ladder stopped at its first rung.
        ($verbose -match 'power button').Count | Should -BeGreaterThan 0
        ($verbose -match 'quit|SIGTERM|SIGKILL').Count | Should -Be 0
        # The process is gone (a reused pid would have another start time), and so is the run.
        Get-QemuExecutable -ProcessId $firstPid | Should -Not -Be 'qemu-system-x86_64'
        Test-Path -LiteralPath $runDir | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $vmDir 'start.journal') | Should -BeFalse
    }

    It 'Get-MyVm then shows Stopped, when and how, and the disk is still there' {
        $vm = Get-MyVm -Name $name -ErrorAction Stop

        $vm.Status | Should -Be 'Stopped'
        $vm.Pid | Should -BeNullOrEmpty
        $vm.StopMethod | Should -Be 'GuestPowerOff'
        $vm.StoppedAt | Should -Not -BeNullOrEmpty
        Get-MyHvInode -Path $disk | Should -Be $diskInode
    }

    It 'a second start boots the same disk: the guest finds the counter it wrote (boot-count 2)' {
        $vm = Start-MyVm -Name $name -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $console = @(Get-MyVmConsole -Name $name -ErrorAction Stop)

        $vm.Status | Should -Be 'Running'
        $console | Should -Contain 'myhv-guest: boot-count 2'
        $console | Should -Not -Contain 'myhv-guest: boot-count 1'
        $console | Should -Contain 'myhv-guest: ready'
        Get-MyHvInode -Path $disk | Should -Be $diskInode
        $script:secondPid = $vm.Pid
        Get-QemuExecutable -ProcessId $secondPid | Should -Be 'qemu-system-x86_64'
    }

    It 'Stop-MyVm -Force skips the guest and tells QEMU to quit (HypervisorQuit)' {
        $vm = Stop-MyVm -Name $name -Force -PassThru -ErrorAction Stop

        $vm.StopMethod | Should -Be 'HypervisorQuit'
        $vm.Status | Should -Be 'Stopped'
        (Get-MyVm -Name $name -ErrorAction Stop).StopMethod | Should -Be 'HypervisorQuit'
        Get-MyVmConsole -Name $name | Should -Not -Contain 'myhv-guest: power button, powering off'
        Get-QemuExecutable -ProcessId $secondPid | Should -Not -Be 'qemu-system-x86_64'
        Test-Path -LiteralPath $runDir | Should -BeFalse
        Get-MyHvInode -Path $disk | Should -Be $diskInode
    }

    It 'Stop-MyVm right after a start without -Wait: the button is pressed again until the booting guest hears it' {
        # Pressed once, the press came before the guest's kernel and acpid were up, and was lost:
        # the stop waited its whole timeout and then needed the guest agent (GuestAgentShutdown).
        Start-MyVm -Name $name -ErrorAction Stop
        $all = @(Stop-MyVm -Name $name -PassThru -TimeoutSeconds 120 -Verbose -ErrorAction Stop 4>&1)
        $vm = @($all | Where-Object { $_ -is [MyHypervisor.Core.Vms.VmInfo] })
        $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)

        $vm[0].StopMethod | Should -Be 'GuestPowerOff'
        $vm[0].Status | Should -Be 'Stopped'
        Get-MyVmConsole -Name $name | Should -Contain 'myhv-guest: power button, powering off'
        ($verbose -match 'guest agent|quit|SIGTERM|SIGKILL').Count | Should -Be 0
    }

    It 'Remove-MyVm deletes the VM, its disk, runtime folder and lock: nothing of it remains' {
        Remove-MyVm -Name $name -Confirm:$false -ErrorAction Stop
        $after = Invoke-MyHvCapture { Get-MyVm -Name $name }

        $after.Output | Should -BeNullOrEmpty
        $after.Errors.Count | Should -Be 1
        $after.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VmNotFound,*'
        @(Get-MyVm) | Should -BeNullOrEmpty
        Test-Path -LiteralPath $vmDir | Should -BeFalse
        Test-Path -LiteralPath $runDir | Should -BeFalse
        Test-Path -LiteralPath $lockFile | Should -BeFalse
        @(Get-ChildItem -LiteralPath $vmHome -Recurse -Force | Where-Object Name -like "*$name*") | Should -BeNullOrEmpty
        @(Get-MyHvProcess -IncludeZombie -Marker "$vmHome/") | Should -BeNullOrEmpty
        @(Get-MyHvLeftover -Home $vmHome) | Should -BeNullOrEmpty
    }
}

Describe 'The README pipeline: New-MyVm | Start-MyVm -PassThru | Get-MyVmStats' {
    It 'creates, starts and measures a VM in one pipeline' {
        $stats = @(New-MyVm pipe -Image tiny | Start-MyVm -PassThru | Get-MyVmStats)
        $vm = Get-MyVm -Name pipe -ErrorAction Stop

        $stats.Count | Should -Be 1
        $stats[0] | Should -BeOfType ([MyHypervisor.Core.Stats.VmStats])
        $stats[0].Name | Should -Be 'pipe'
        $stats[0].Status | Should -Be 'Running'
        $stats[0].Pid | Should -Be $vm.Pid
        $stats[0].CpuSeconds | Should -BeGreaterThan 0
        $stats[0].MemoryRssBytes | Should -BeGreaterThan 0
        $stats[0].Uptime | Should -BeGreaterThan ([TimeSpan]::Zero)
        $script:pipePid = $vm.Pid
    }

    It 'Remove-MyVm -Force stops the running VM first, then removes it' {
        Remove-MyVm -Name pipe -Force -ErrorAction Stop

        Test-Path -LiteralPath (Join-Path $vmHome 'vms/pipe') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $vmHome 'run/pipe') | Should -BeFalse
        Get-MyHvProcessStartTicks -ProcessId $pipePid | Should -BeNullOrEmpty
        @(Get-MyHvLeftover -Home $vmHome) | Should -BeNullOrEmpty
    }
}

Describe '-Image takes a folder path' {
    BeforeAll {
        # A copy of the tiny image under another name, in a folder outside every image search path.
        $tiny = [MyHypervisor.Core.Images.ImageCatalog]::new([MyHypervisor.Core.Configuration.MyHvPaths]::FromEnvironment()).Resolve('tiny')
        $script:imageParent = New-MyHvTestDir -Prefix 'mhI'
        $script:imageCopy = Join-Path $script:imageParent 'img'
        $null = New-Item -ItemType Directory -Path $script:imageCopy
        Get-ChildItem -LiteralPath $tiny.Folder -File | Copy-Item -Destination $script:imageCopy
        $manifest = Get-Content -Raw (Join-Path $script:imageCopy 'image.json') | ConvertFrom-Json
        $manifest.Name = 'tiny-copy'
        $manifest | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $script:imageCopy 'image.json')
    }
    AfterAll {
        foreach ($vmName in 'byfolder', 'byrel', 'byjson') { Remove-MyVm -Name $vmName -Force -ErrorAction SilentlyContinue }
        Remove-Item -LiteralPath $script:imageParent -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'New-MyVm -Image with a folder path uses the image in that folder, and the VM boots from it' {
        $vm = New-MyVm -Name byfolder -Image $imageCopy -ErrorAction Stop
        $definition = Get-Content -Raw (Join-Path $vmHome 'vms/byfolder/definition.json') | ConvertFrom-Json

        $vm.Image | Should -Be 'tiny-copy'
        $definition.ImagePath | Should -Be $imageCopy
        $running = Start-MyVm -Name byfolder -Wait -TimeoutSeconds $bootTimeout -PassThru -ErrorAction Stop
        $running.Status | Should -Be 'Running'
        [System.IO.File]::ReadAllText("/proc/$($running.Pid)/cmdline").Replace([char] 0, ' ') | Should -BeLike "* $imageCopy/vmlinuz *"
        (Get-OverlayInfo -Path (Join-Path $vmHome 'vms/byfolder/disk.qcow2')).'backing-filename' | Should -Be (Join-Path $imageCopy 'rootfs.ext4')
        Get-MyVmConsole -Name byfolder | Should -Contain 'myhv-guest: ready'
        Remove-MyVm -Name byfolder -Force -ErrorAction Stop
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/byfolder') | Should -BeFalse
    }

    It 'a relative folder path is taken from the current location' {
        Push-Location -LiteralPath $imageParent
        try { $vm = New-MyVm -Name byrel -Image './img' -ErrorAction Stop }
        finally { Pop-Location }
        $definition = Get-Content -Raw (Join-Path $vmHome 'vms/byrel/definition.json') | ConvertFrom-Json

        $vm.Image | Should -Be 'tiny-copy'
        $definition.ImagePath | Should -Be $imageCopy
    }

    It 'the path of the image.json file works too' {
        $vm = New-MyVm -Name byjson -Image (Join-Path $imageCopy 'image.json') -ErrorAction Stop

        $vm.Image | Should -Be 'tiny-copy'
        (Get-Content -Raw (Join-Path $vmHome 'vms/byjson/definition.json') | ConvertFrom-Json).ImagePath | Should -Be $imageCopy
    }
}
