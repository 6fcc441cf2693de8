# Set-MyVm: a stopped VM's CPUs, memory, network, volumes and kernel arguments change; the guest
# sees the new CPUs and memory at its next boot (the tiny guest's init prints them); every invalid
# change is refused by New-MyVm's rules with the definition left byte for byte as it was; -WhatIf
# shows the change and writes nothing; a running VM is refused with VmAlreadyRunning naming the
# change. Two boots in all.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:bootTimeout = 180
    $script:share = New-MyHvTestDir -Prefix 'mhS'

    function Get-DefinitionBytes([string] $Name) {
        [System.IO.File]::ReadAllBytes((Join-Path $script:vmHome "vms/$Name/definition.json"))
    }

    function Get-GuestFacts([string] $Name) {
        # The init prints what the guest got; an image without these lines predates them.
        $cpus = Wait-MyHvConsoleText -HomePath $script:vmHome -Name $Name -Pattern '^myhv-guest: cpus (\d+)$' -TimeoutSeconds 5
        $kib = Wait-MyHvConsoleText -HomePath $script:vmHome -Name $Name -Pattern '^myhv-guest: memtotal-kib (\d+)$' -TimeoutSeconds 5
        [pscustomobject]@{ Cpus = [int] $cpus; MemTotalKiB = [long] $kib }
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Set-MyVm on a stopped VM' {
    BeforeAll {
        $null = New-MyVm -Name 'cfg' -Cpus 1 -MemoryMiB 128 -ErrorAction Stop
    }

    It 'refuses <Case> with InvalidVmSpec and leaves definition.json byte-identical' -ForEach @(
        @{ Case = 'zero CPUs'; Splat = @{ Cpus = 0 }; Message = 'Cpus is 0' }
        @{ Case = 'too many CPUs'; Splat = @{ Cpus = 65 }; Message = 'Cpus is 65' }
        @{ Case = 'too little memory'; Splat = @{ MemoryMiB = 32 }; Message = 'MemoryMiB is 32' }
        @{ Case = 'a bridge that does not exist'; Splat = @{ Bridge = 'mhnosuchbr0' }; Message = "the bridge 'mhnosuchbr0' does not exist" }
        @{ Case = 'an address without a bridged network'; Splat = @{ IPAddress = '10.1.2.3/24' }; Message = 'apply to the Bridge network only' }
        @{ Case = 'unsafe kernel arguments'; Splat = @{ KernelArguments = 'init=/bin/sh;reboot' }; Message = 'KernelArguments may hold' }
        @{ Case = 'removing a tag it does not have'; Splat = @{ RemoveVolume = 'nope' }; Message = "no volume tagged 'nope'" }
        @{ Case = 'a relative volume path'; Splat = @{ AddVolume = @(@{ Path = 'rel/dir'; Tag = 'rel' }) }; Message = 'must be an absolute path' }
        @{ Case = 'a volume tag used twice'; Splat = @{ AddVolume = @(@{ Path = '/tmp'; Tag = 'dup' }, @{ Path = '/tmp'; Tag = 'dup' }) }; Message = "'dup' is used twice" }
        @{ Case = 'a valid and an invalid setting together'; Splat = @{ Cpus = 2; MemoryMiB = 1 }; Message = 'MemoryMiB is 1' }
    ) {
        $before = Get-DefinitionBytes 'cfg'
        $err = $null
        Set-MyVm -Name 'cfg' @Splat -ErrorVariable err -ErrorAction SilentlyContinue
        @($err).Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.SetMyVmCommand'
        $err[0].Exception.Message | Should -BeLike "*$Message*"
        (Get-DefinitionBytes 'cfg') | Should -Be $before
    }

    It '-WhatIf shows the change and writes nothing' {
        $before = Get-DefinitionBytes 'cfg'
        # "What if:" goes to the host, so a child pwsh runs it and its output is read.
        $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
        $child = Start-MyHvPwsh -EncodedCommand "Import-Module '$manifest'; Set-MyVm -Name 'cfg' -Cpus 3 -KernelArguments 'loglevel=4' -WhatIf" `
            -Environment @{ MYHV_HOME = $vmHome }
        $said = (Wait-MyHvPwsh -Process $child -TimeoutSeconds 120).Stdout
        $said | Should -BeLike "*VM 'cfg' (Cpus 1 -> 3; KernelArguments (none) -> loglevel=4)*"
        (Get-DefinitionBytes 'cfg') | Should -Be $before
    }

    It 'changes only what is given, -PassThru shows it, and the file is replaced atomically' {
        $before = Get-Content -Raw (Join-Path $vmHome 'vms/cfg/definition.json') | ConvertFrom-Json
        $vm = Set-MyVm -Name 'cfg' -KernelArguments 'loglevel=4' -PassThru -ErrorAction Stop
        $vm.Cpus | Should -Be 1
        $after = Get-Content -Raw (Join-Path $vmHome 'vms/cfg/definition.json') | ConvertFrom-Json
        $after.kernelArguments | Should -Be 'loglevel=4'
        $after.id | Should -Be $before.id
        $after.network.macAddress | Should -Be $before.network.macAddress
        $after.createdAt | Should -Be $before.createdAt
        # No temp file is left next to it, and it is still private.
        @(Get-ChildItem -LiteralPath (Join-Path $vmHome 'vms/cfg') -Force -Filter '.*tmp') | Should -BeNullOrEmpty
        (& stat -c '%a' -- (Join-Path $vmHome 'vms/cfg/definition.json')) | Should -Be '600'
        # An empty string clears it again.
        (Set-MyVm -Name 'cfg' -KernelArguments '' -PassThru -ErrorAction Stop) | Should -Not -BeNullOrEmpty
        (Get-Content -Raw (Join-Path $vmHome 'vms/cfg/definition.json') | ConvertFrom-Json).PSObject.Properties['kernelArguments'] | Should -BeNullOrEmpty
    }

    It 'adds, removes and replaces volumes by tag' {
        $vm = Set-MyVm -Name 'cfg' -AddVolume @{ Path = $share; Tag = 'one' }, @{ Path = $share; Tag = 'two'; ReadOnly = $true } -PassThru -ErrorAction Stop
        @($vm.Volumes.Tag) | Should -Be @('one', 'two')
        $vm = Set-MyVm -Name 'cfg' -RemoveVolume 'one' -PassThru -ErrorAction Stop
        @($vm.Volumes.Tag) | Should -Be @('two')
        $vm.Volumes[0].ReadOnly | Should -BeTrue
        $vm = Set-MyVm -Name 'cfg' -Volume @() -PassThru -ErrorAction Stop
        @($vm.Volumes) | Should -BeNullOrEmpty
    }

    It 'switches networks and keeps the MAC address derived from the VM id' {
        $mac = (Get-MyVm -Name 'cfg').MacAddress
        $vm = Set-MyVm -Name 'cfg' -Network None -PassThru -ErrorAction Stop
        $vm.Network | Should -Be 'None'
        $vm.MacAddress | Should -BeNullOrEmpty
        $vm = Set-MyVm -Name 'cfg' -Network User -PassThru -ErrorAction Stop
        $vm.Network | Should -Be 'User'
        $vm.MacAddress | Should -Be $mac
    }

    It 'takes names from the pipeline and wildcards' {
        $null = New-MyVm -Name 'cfg2' -ErrorAction Stop
        Get-MyVm -Name 'cfg2' | Set-MyVm -MemoryMiB 200 -ErrorAction Stop
        (Get-MyVm -Name 'cfg2').MemoryMiB | Should -Be 200
        Set-MyVm -Name 'cfg?' -MemoryMiB 300 -ErrorAction Stop
        (Get-MyVm -Name 'cfg2').MemoryMiB | Should -Be 300
        (Get-MyVm -Name 'cfg').MemoryMiB | Should -Be 128 -Because "'cfg?' does not match 'cfg'"
        Remove-MyVm -Name 'cfg2' -Confirm:$false
    }

    It 'an unknown VM is VmNotFound' {
        $err = $null
        Set-MyVm -Name 'nosuchvm' -Cpus 2 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotFound,*'
    }
}

Describe 'The guest sees what Set-MyVm changed' {
    It 'boots with 1 CPU and 128 MiB, refuses a change while running, then boots with 2 CPUs and 256 MiB' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $null = Start-MyVm -Name 'cfg' -Wait -TimeoutSeconds $bootTimeout -ErrorAction Stop
        $first = Get-GuestFacts 'cfg'
        $first.Cpus | Should -Be 1
        $first.MemTotalKiB | Should -BeLessThan (128 * 1024)

        # Running: refused, the change named, nothing written.
        $before = Get-DefinitionBytes 'cfg'
        $err = $null
        Set-MyVm -Name 'cfg' -Cpus 2 -MemoryMiB 256 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'VmAlreadyRunning,MyHypervisor.PowerShell.Commands.SetMyVmCommand'
        $err[0].Exception.Message | Should -BeLike '*Cpus 1 -> 2; MemoryMiB 128 -> 256 would need a restart*'
        (Get-DefinitionBytes 'cfg') | Should -Be $before

        $null = Stop-MyVm -Name 'cfg' -Force -ErrorAction Stop
        $null = Set-MyVm -Name 'cfg' -Cpus 2 -MemoryMiB 256 -ErrorAction Stop
        $null = Start-MyVm -Name 'cfg' -Wait -TimeoutSeconds $bootTimeout -ErrorAction Stop
        $second = Get-GuestFacts 'cfg'
        $second.Cpus | Should -Be 2
        # 128 MiB more, less what the kernel keeps for itself.
        ($second.MemTotalKiB - $first.MemTotalKiB) | Should -BeGreaterThan (100 * 1024)
        $second.MemTotalKiB | Should -BeLessThan (256 * 1024)
        # The same disk: the second boot counted on from the first.
        (Wait-MyHvConsoleText -HomePath $vmHome -Name 'cfg' -Pattern '^myhv-guest: boot-count (\d+)$' -TimeoutSeconds 5) | Should -Be '2'
        $null = Stop-MyVm -Name 'cfg' -Force -ErrorAction Stop
    }
}
