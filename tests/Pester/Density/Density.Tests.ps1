<#
Density settings and concurrent lifecycle commands (issue 15).
- TCG's memory settings reach QEMU's real command line (the default translation buffer, a VM's
  own value, 0 for QEMU's own default; the free page reporting balloon, on by default, off on
  request), are validated by New-MyVm, Set-MyVm and the record checks, and KVM's command line does
  not change (built by Core: no host here boots KVM guests).
- The balloon is live in a real tiny guest: QMP query-balloon answers for a default VM and has no
  balloon device for one with -FreePageReporting $false, and the guest loaded its driver with the
  page reporting order lowered to 5.
- Start-MyVm -Wait on several VMs works on them at once and still writes each VM's own result
  and error, in the order the VMs came: a VM whose guest cannot boot (its kernel finds no init
  and panics) between two good ones. Stop-MyVm on several VMs does the same.
- Ctrl+C (PowerShell.Stop()) during a concurrent Start-MyVm -Wait leaves every VM consistent:
  running with its QEMU, or not running with no QEMU left.
One tiny guest boot per VM; no timing is asserted (the order of events is).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:savedAccel = $env:MYHV_ACCEL
    $env:MYHV_ACCEL = 'tcg'
    $script:vmHome = New-MyHvTestHome

    function Get-QemuArgv([string] $Name) {
        $vm = Get-MyVm -Name $Name
        $vm.Status | Should -Be 'Running'
        [System.IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline").TrimEnd([char] 0).Split([char] 0)
    }
    function Get-AccelValue([string[]] $Argv) { $Argv[[array]::IndexOf($Argv, '-accel') + 1] }
    # Every -device value that is a virtio balloon.
    function Get-BalloonDevice([string[]] $Argv) {
        for ($i = 0; $i -lt $Argv.Count - 1; $i++) { if ($Argv[$i] -eq '-device' -and $Argv[$i + 1] -like 'virtio-balloon*') { $Argv[$i + 1] } }
    }
    function Get-HomeQemu([string] $Name) {
        # QEMU processes of this VM: their command line names its runtime folder.
        $needle = "$script:vmHome/run/$Name/"
        foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
            $procId = 0
            if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
            try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline") } catch { continue }
            if ($cmd.StartsWith('/usr/bin/qemu-system') -and $cmd.Contains($needle)) { $procId }
        }
    }

    $null = New-MyVm -Name 'dgood1' -Image tiny -MemoryMiB 128 -Network None
    # Its kernel finds no init in the initrd, panics, and QEMU (-no-reboot) exits during the wait.
    $null = New-MyVm -Name 'dbad' -Image tiny -MemoryMiB 128 -Network None -KernelArguments 'rdinit=nonexistent'
    # QEMU's own defaults: its translation buffer, no balloon.
    $null = New-MyVm -Name 'dgood2' -Image tiny -MemoryMiB 128 -Network None -TranslationCacheMiB 0 -FreePageReporting $false

    # Everything the command writes, in the order it wrote it (verbose, errors, objects).
    $script:stream = @(Start-MyVm -Name 'dgood1', 'dbad', 'dgood2' -Wait -PassThru -TimeoutSeconds 240 -ThrottleLimit 3 -Verbose 4>&1 2>&1)
    $script:argvDefault = Get-QemuArgv 'dgood1'
    $script:argvQemuDefault = Get-QemuArgv 'dgood2'
    # Asked while both run (the Lifecycle tests below stop them).
    $script:balloonDefault = Invoke-MyHvQmp -HomePath $script:vmHome -Name 'dgood1' -Command 'query-balloon'
    $script:balloonOff = Invoke-MyHvQmp -HomePath $script:vmHome -Name 'dgood2' -Command 'query-balloon' -Raw
    $script:orderDefault = Invoke-MyHvGuestCommand -HomePath $script:vmHome -Name 'dgood1' -Command 'cat /sys/module/page_reporting/parameters/page_reporting_order; ls -d /sys/module/virtio_balloon'
}

AfterAll {
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    Assert-MyHvNoLeftovers -Home $script:vmHome
    $env:MYHV_ACCEL = $script:savedAccel
}

Describe 'TCG memory settings' {
    It 'a VM gets the module''s translation buffer under TCG by default, and 0 gives QEMU''s own default' {
        [MyHypervisor.Core.Hypervisors.Qemu.TcgMemorySettings]::DefaultTranslationCacheMiB | Should -Be 32
        Get-AccelValue $script:argvDefault | Should -BeExactly 'tcg,tb-size=32'
        Get-AccelValue $script:argvQemuDefault | Should -BeExactly 'tcg'
        (Get-MyVm -Name 'dgood1').TranslationCacheMiB | Should -Be 32
        (Get-MyVm -Name 'dgood2').TranslationCacheMiB | Should -Be 0
    }

    It 'a VM gets the free page reporting balloon under TCG by default, and -FreePageReporting $false gives none' {
        [MyHypervisor.Core.Hypervisors.Qemu.TcgMemorySettings]::DefaultFreePageReporting | Should -BeTrue
        @(Get-BalloonDevice $script:argvDefault) | Should -Be @('virtio-balloon-pci,free-page-reporting=on')
        @(Get-BalloonDevice $script:argvQemuDefault) | Should -BeNullOrEmpty
        (Get-MyVm -Name 'dgood1').FreePageReporting | Should -BeTrue
        (Get-MyVm -Name 'dgood2').FreePageReporting | Should -BeFalse
    }

    It 'the balloon is live in the guest: QMP sees it, the driver is loaded and reports at order 5; without it QMP finds none' {
        # No target was ever set: the balloon holds nothing back from the guest's 128 MiB.
        $script:balloonDefault.actual | Should -Be (128MB)
        $script:balloonOff | Should -Match '"error"'
        $script:balloonOff | Should -Match 'DeviceNotActive|No balloon device'
        $lines = @($script:orderDefault -split "`n" | ForEach-Object { $_.Trim() } | Where-Object { $_ })
        $lines | Should -Be @('5', '/sys/module/virtio_balloon')
    }

    It 'KVM''s command line is the same as before: no TCG option, every other argument unchanged' {
        $tiny = [MyHypervisor.Core.Images.ImageCatalog]::new([MyHypervisor.Core.Configuration.MyHvPaths]::FromEnvironment()).Resolve('tiny')
        function Build([string] $Accelerator, $CacheMiB, $FreePageReporting) {
            $definition = [MyHypervisor.Core.Vms.VmDefinition] @{ Name = 'k'; Id = [guid]::NewGuid(); Image = 'tiny'; ImagePath = $tiny.Folder; Cpus = 1; MemoryMiB = 128
                TranslationCacheMiB = $CacheMiB; FreePageReporting = $FreePageReporting }
            $request = [MyHypervisor.Core.Hypervisors.LaunchRequest] @{
                Definition = $definition; Image = $tiny; OverlayDisk = '/h/disk.qcow2'; ConsoleLog = '/h/console.log'; RuntimeDirectory = '/h/run'
                ApiSocket = '/h/run/api.sock'; PidFile = '/h/run/pid'; ChannelSocket = '/h/run/channel.sock'; AgentSocket = '/h/run/agent.sock'
                KernelCommandLine = 'console=ttyS0'; Accelerator = $Accelerator
            }
            [string[]] [MyHypervisor.Core.Hypervisors.Qemu.QemuCommandLine]::Build($request)
        }
        foreach ($cache in $null, 64, 0) {
            foreach ($balloon in $null, $true, $false) {
                $kvm = Build 'kvm' $cache $balloon
                Get-AccelValue $kvm | Should -BeExactly 'kvm'
                ($kvm -join ' ') | Should -Not -Match 'tb-size|virtio-balloon'
                # The same list as TCG with QEMU's defaults, but for the accelerator's name.
                $tcgPlain = Build 'tcg' 0 $false
                $tcgPlain[[array]::IndexOf($tcgPlain, '-accel') + 1] = 'kvm'
                $kvm | Should -Be $tcgPlain
            }
        }
        Get-AccelValue (Build 'tcg' 64) | Should -BeExactly 'tcg,tb-size=64'
        # Under TCG the balloon follows the setting, and adding it moves no other argument.
        @(Get-BalloonDevice (Build 'tcg' 0 $true)) | Should -Be @('virtio-balloon-pci,free-page-reporting=on')
        @(Get-BalloonDevice (Build 'tcg' 0 $null)) | Should -Be @('virtio-balloon-pci,free-page-reporting=on')
        @(Get-BalloonDevice (Build 'tcg' 0 $false)) | Should -BeNullOrEmpty
        $with = [System.Collections.Generic.List[string]] (Build 'tcg' 0 $true)
        $at = $with.IndexOf('virtio-balloon-pci,free-page-reporting=on')
        $with.RemoveRange($at - 1, 2)
        [string[]] $with | Should -Be (Build 'tcg' 0 $false)
    }

    It 'a value QEMU cannot use is refused before anything is created, and Set-MyVm changes and resets it' {
        { New-MyVm -Name 'dcache' -Image tiny -Network None -TranslationCacheMiB 3 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidVmSpec*' -ExpectedMessage '*TranslationCacheMiB is 3*'
        Test-Path -LiteralPath (Join-Path $script:vmHome 'vms/dcache') | Should -BeFalse
        $null = New-MyVm -Name 'dcache' -Image tiny -Network None -TranslationCacheMiB 64
        (Get-MyVm -Name 'dcache').TranslationCacheMiB | Should -Be 64
        { Set-MyVm -Name 'dcache' -TranslationCacheMiB 99999 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        (Set-MyVm -Name 'dcache' -TranslationCacheMiB $null -PassThru).TranslationCacheMiB | Should -Be 32
        (Get-Content -LiteralPath (Join-Path $script:vmHome 'vms/dcache/definition.json') -Raw) | Should -Not -Match '"translationCacheMiB":\s*\d'
    }

    It 'Set-MyVm turns the balloon off and on, names the change, and $null goes back to the default' {
        (Set-MyVm -Name 'dcache' -FreePageReporting $false -PassThru).FreePageReporting | Should -BeFalse
        (Get-Content -LiteralPath (Join-Path $script:vmHome 'vms/dcache/definition.json') -Raw | ConvertFrom-Json).freePageReporting | Should -BeFalse
        $said = @(Set-MyVm -Name 'dcache' -FreePageReporting $true -Verbose 4>&1 | ForEach-Object Message)
        $said | Should -Contain "VM 'dcache': FreePageReporting False -> True"
        (Get-MyVm -Name 'dcache').FreePageReporting | Should -BeTrue
        (Set-MyVm -Name 'dcache' -FreePageReporting $true -PassThru -Verbose 4>&1 | ForEach-Object Message) | Should -Contain "VM 'dcache': nothing to change"
        (Set-MyVm -Name 'dcache' -FreePageReporting $false -PassThru).FreePageReporting | Should -BeFalse
        (Set-MyVm -Name 'dcache' -FreePageReporting $null -PassThru).FreePageReporting | Should -BeTrue
        (Get-Content -LiteralPath (Join-Path $script:vmHome 'vms/dcache/definition.json') -Raw) | Should -Not -Match 'freePageReporting'
    }

    It 'a hand-edited "freePageReporting": "yes" makes the record unusable, naming the field, and Start-MyVm refuses it' {
        $file = Join-Path $script:vmHome 'vms/dcache/definition.json'
        $good = Get-Content -LiteralPath $file -Raw
        $json = $good | ConvertFrom-Json -AsHashtable
        $json['freePageReporting'] = 'yes'
        [System.IO.File]::WriteAllText($file, ($json | ConvertTo-Json -Depth 10))
        $vm = Get-MyVm -Name 'dcache'
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match 'freePageReporting'
        { Start-MyVm -Name 'dcache' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        Test-Path -LiteralPath (Join-Path $script:vmHome 'run/dcache') | Should -BeFalse
        [System.IO.File]::WriteAllText($file, $good)
        (Get-MyVm -Name 'dcache').Status | Should -Be 'Stopped'
    }

    It 'a hand-edited value in definition.json makes the record unusable, naming the field' {
        $file = Join-Path $script:vmHome 'vms/dcache/definition.json'
        $json = Get-Content -LiteralPath $file -Raw | ConvertFrom-Json -AsHashtable
        $json['translationCacheMiB'] = -5
        [System.IO.File]::WriteAllText($file, ($json | ConvertTo-Json -Depth 10))
        $vm = Get-MyVm -Name 'dcache'
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match "translationCacheMiB"
        Remove-MyVm -Name 'dcache' -Force -Confirm:$false
    }
}

Describe 'Lifecycle commands on several VMs at once' {
    It 'Start-MyVm -Wait waited for the guests at the same time' {
        $lines = @($script:stream | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $firstReady = [array]::FindIndex([string[]] $lines, [Predicate[string]] { param($l) $l -match 'the guest reported ready' })
        $firstReady | Should -BeGreaterThan 0
        foreach ($name in 'dgood1', 'dbad', 'dgood2') {
            $waiting = [array]::FindIndex([string[]] $lines, [Predicate[string]] { param($l) $l -like "VM '$name': waiting up to*" })
            $waiting | Should -BeGreaterOrEqual 0 -Because "VM $name waited for its guest"
            $waiting | Should -BeLessThan $firstReady -Because "VM $name began waiting before any guest was ready"
        }
    }

    It 'each VM got its own result or error, written in the order the VMs came' {
        $written = @($script:stream | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $written.Count | Should -Be 3
        $written[0].Name | Should -Be 'dgood1'
        $written[0].Status | Should -Be 'Running'
        $written[1] | Should -BeOfType ([System.Management.Automation.ErrorRecord])
        $written[1].TargetObject | Should -Be 'dbad'
        $written[1].FullyQualifiedErrorId | Should -BeLike 'VmStartFailed*'
        $written[1].Exception.Message | Should -BeLike "*'dbad'*"
        $written[2].Name | Should -Be 'dgood2'
        $written[2].Status | Should -Be 'Running'
        (Get-MyVm -Name 'dbad').Status | Should -Not -Be 'Running'
    }

    It 'Stop-MyVm on several VMs stops each and writes them in order' {
        $stopped = @(Stop-MyVm -Name 'dgood1', 'dgood2' -PassThru -TimeoutSeconds 60)
        $stopped.Name | Should -Be @('dgood1', 'dgood2')
        $stopped.Status | Should -Be @('Stopped', 'Stopped')
        @(Get-HomeQemu 'dgood1') + @(Get-HomeQemu 'dgood2') | Should -BeNullOrEmpty
    }

    It 'Ctrl+C during a concurrent Start-MyVm -Wait leaves every VM consistent' {
        $names = 'dgood1', 'dgood2'
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1')' -ErrorAction Stop; `$env:MYHV_HOME = '$script:vmHome'; `$env:MYHV_ACCEL = 'tcg'; Start-MyVm -Name dgood1, dgood2 -Wait -TimeoutSeconds 240")
            $async = $ps.BeginInvoke()
            # Stop once both starts are under way (each has its QEMU), while the guests boot.
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            while (@($names | Where-Object { @(Get-HomeQemu $_).Count -gt 0 }).Count -lt 2 -and -not $async.IsCompleted) {
                if ([DateTime]::UtcNow -gt $deadline) { throw 'the starts did not launch QEMU within 120 s' }
                Start-Sleep -Milliseconds 50
            }
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -BeIn 'Stopped', 'Completed'
        }
        finally { $ps.Dispose() }
        foreach ($vm in Get-MyVm -Name $names) {
            $qemu = @(Get-HomeQemu $vm.Name)
            if ($vm.Status -eq 'Running') { $qemu | Should -Contain $vm.Pid }
            else {
                $qemu | Should -BeNullOrEmpty -Because "VM $($vm.Name) is $($vm.Status)"
                Test-Path -LiteralPath (Join-Path $script:vmHome "run/$($vm.Name)") | Should -BeFalse
            }
        }
    }
}
