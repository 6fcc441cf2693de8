<#
Issue 5, the guest channel: a virtio-serial port ('org.myhypervisor.guest.0') whose host end is
run/<name>/channel.sock. Start-MyVm -Wait returns once the guest's READY came through it, and falls
back to the console's readiness line when the guest side of the channel is unavailable.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite

    function Get-QemuCommandLine([int] $QemuPid) {
        , [System.IO.File]::ReadAllText("/proc/$QemuPid/cmdline").Split([char] 0)
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'Start-MyVm -Wait and the guest channel' {
    It 'returns only once the guest reported ready through its channel (console line there too)' {
        New-MyVm -Name 'chan' -Network None | Out-Null
        $socket = Join-Path $script:testHome 'run/chan/channel.sock'
        $narration = @(Start-MyVm -Name 'chan' -Wait -TimeoutSeconds 120 -Verbose 4>&1 | ForEach-Object { "$_" })

        $waitAt = [array]::IndexOf($narration, "VM 'chan': waiting up to 120 s for the guest to report ready")
        $readyAt = [array]::IndexOf($narration, "VM 'chan': the guest reported ready through its channel")
        $waitAt | Should -BeGreaterOrEqual 0 -Because ($narration -join "`n")
        $readyAt | Should -BeGreaterThan $waitAt -Because ($narration -join "`n")
        @($narration | Where-Object { $_ -like '*reported ready through its console*' }) | Should -BeNullOrEmpty

        # The channel is QEMU's virtio-serial port bound to the VM's socket, and the guest also said so on its console.
        $vm = Get-MyVm -Name 'chan'
        $vm.Status | Should -Be 'Running'
        $cmd = Get-QemuCommandLine $vm.Pid
        $cmd | Should -Contain "socket,id=chan0,path=$socket,server=on,wait=off"
        $cmd | Should -Contain 'virtserialport,bus=vser0.0,chardev=chan0,name=org.myhypervisor.guest.0'
        Test-Path -LiteralPath $socket | Should -BeTrue
        Get-MyVmConsole -Name 'chan' | Should -Contain 'myhv-guest: ready'
        @(Get-MyVmConsole -Name 'chan' | Where-Object { $_ -match 'virtio_console' }) | Should -BeNullOrEmpty

        Stop-MyVm -Name 'chan' -Force
        Test-Path -LiteralPath $socket | Should -BeFalse
    }

    It 'falls back to the console readiness line when the guest cannot use the channel' {
        # The host end exists as always, but the guest's kernel refuses the virtio_console driver,
        # so no READY ever comes through the channel: only the console can tell.
        New-MyVm -Name 'chanoff' -Network None -KernelArguments 'module_blacklist=virtio_console' | Out-Null
        $socket = Join-Path $script:testHome 'run/chanoff/channel.sock'
        $narration = @(Start-MyVm -Name 'chanoff' -Wait -TimeoutSeconds 120 -Verbose 4>&1 | ForEach-Object { "$_" })

        $narration | Should -Contain "VM 'chanoff': the guest reported ready through its console" -Because ($narration -join "`n")
        @($narration | Where-Object { $_ -like '*reported ready through its channel*' }) | Should -BeNullOrEmpty
        $vm = Get-MyVm -Name 'chanoff'
        $vm.Status | Should -Be 'Running'
        Test-Path -LiteralPath $socket | Should -BeTrue
        $console = Get-MyVmConsole -Name 'chanoff'
        $console | Should -Contain 'myhv-guest: insmod virtio_console failed'
        $console | Should -Contain 'myhv-guest: ready'

        Stop-MyVm -Name 'chanoff' -Force
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }
}
