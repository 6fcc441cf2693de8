# Runner: host-exclusive
<#
Issue 5, bridged networking. Every bridged VM runs inside a network namespace this suite creates
(mhtest-<random>, with lo and a bridge br0 10.77.0.1/24) and deletes: the module runs in a child
`ip netns exec <ns> dotnet pwsh`, which reports what it saw as JSON. The host's own interfaces are
never touched.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $script:ns = $null
    # Bridged networking needs root (TAP devices, namespaces) and iproute2.
    $script:ip = (Get-Command -Name ip -CommandType Application -ErrorAction Ignore) -and ((& id -u) -eq '0')
    if ($script:ip) { $script:ns = New-MyHvTestNamespace }

    # Runs inside the namespace: a MAC/TAP of a VM, read from QEMU's own command line.
    $script:childFunctions = @'
function Get-QemuNetArgs([int] $QemuPid) {
    $cmd = [IO.File]::ReadAllText("/proc/$QemuPid/cmdline").Split([char] 0)
    [ordered]@{
        Mac = (@($cmd | Where-Object { $_ -match '^virtio-net-pci,' }) -join ' ' | Select-String -Pattern 'mac=([0-9a-f:]{17})').Matches.Groups[1].Value
        Netdev = @($cmd | Where-Object { $_ -match '^tap,' }) -join ' '
    }
}
'@
}

AfterAll {
    if ($script:ns -and (Test-MyHvNamespace -Name $script:ns)) {
        # Remove the VMs from inside the namespace (their TAP devices live there), then the namespace.
        $cleanup = Invoke-MyHvChild -Namespace $script:ns -Body 'Get-MyVm | Remove-MyVm -Force -Confirm:$false; $r.Left = @(Get-MyHvNetDeviceName)'
        Remove-MyHvTestNamespace -Name $script:ns
        if ($cleanup.Result -and $cleanup.Result.Left.Count) { throw "mh* devices were left in $($script:ns): $($cleanup.Result.Left -join ', ')" }
    }
    Complete-MyHvTestSuite -HomePath $script:testHome
    # Every namespace this suite made is gone.
    if ($script:ns -and (Test-MyHvNamespace -Name $script:ns)) { throw "network namespace left behind: $($script:ns)" }
}

Describe 'Bridge validation' {
    It 'New-MyVm -Bridge nosuchbr fails with InvalidVmSpec before anything is created' {
        $before = @(Get-ChildItem -LiteralPath $script:testHome -Recurse -Force -ErrorAction SilentlyContinue | ForEach-Object FullName)
        $err = $null
        try { New-MyVm -Name 'nobr' -Bridge 'nosuchbr' -IPAddress 10.77.0.9/24 -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec*'
        "$err" | Should -Match 'nosuchbr'
        # Nothing of the VM exists: no folder, no lock, no record, no device.
        Test-Path -LiteralPath (Join-Path $script:testHome 'vms/nobr') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:testHome 'locks/nobr.lock') | Should -BeFalse
        @(Get-MyVm -Name 'nobr' -ErrorAction SilentlyContinue).Count | Should -Be 0
        $after = @(Get-ChildItem -LiteralPath $script:testHome -Recurse -Force -ErrorAction SilentlyContinue | ForEach-Object FullName)
        @($after | Where-Object { $_ -notin $before }) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }

    It 'gives every VM its own stable MAC address (52:54:00 range) and its own TAP name' {
        $a = New-MyVm -Name 'maca' -Network User
        $b = New-MyVm -Name 'macb' -Network User
        $a.MacAddress | Should -Match '^52:54:00(:[0-9a-f]{2}){3}$'
        $b.MacAddress | Should -Match '^52:54:00(:[0-9a-f]{2}){3}$'
        $a.MacAddress | Should -Not -Be $b.MacAddress
        # Stable: the record, re-read, gives the same address.
        (Get-MyVm -Name 'maca').MacAddress | Should -Be $a.MacAddress
        Remove-MyVm -Name 'maca', 'macb' -Force
    }
}

Describe 'A bridged VM in a network namespace' {
    BeforeAll {
        $script:run = $null
        if (-not $script:ns) { return }
        $ping = Get-MyHvPingCommand
        $pingCall = if ($ping) { "& '$($ping -join "' '")' -c 3 -W 2 10.77.0.2" } else { 'throw "no ping"' }
        $body = $script:childFunctions + @"

`$vm = New-MyVm -Name 'brvm' -Bridge br0 -IPAddress 10.77.0.2/24 -Gateway 10.77.0.1
`$r.NewMac = `$vm.MacAddress
`$r.Tap = `$vm.TapDevice
`$r.Other = (New-MyVm -Name 'brvm2' -Bridge br0 -IPAddress 10.77.0.3/24).TapDevice
`$r.DevicesBeforeStart = @(Get-MyHvNetDeviceName)

`$r.Verbose1 = @(Start-MyVm -Name 'brvm' -Wait -TimeoutSeconds 120 -Verbose 4>&1 | ForEach-Object { "`$_" })
`$info = Get-MyVm -Name 'brvm'
`$r.Status1 = "`$(`$info.Status)"
`$r.Mac1 = `$info.MacAddress
`$q = Get-QemuNetArgs `$info.Pid
`$r.QemuMac1 = `$q.Mac
`$r.QemuNetdev1 = `$q.Netdev
`$r.DevicesRunning = @(Get-MyHvNetDeviceName)
`$r.TapMaster = [IO.Path]::GetFileName((Get-Item "/sys/class/net/`$(`$info.TapDevice)/master").LinkTarget)
`$r.TapOperState = (Get-Content "/sys/class/net/`$(`$info.TapDevice)/flags") 

`$r.PingOutput = @($pingCall 2>&1 | ForEach-Object { "`$_" })
`$r.PingExit = `$LASTEXITCODE
`$stats = Get-MyVmStats -Name 'brvm'
`$r.NetRxBytes = `$stats.NetRxBytes
`$r.NetTxBytes = `$stats.NetTxBytes
`$r.StatsStatus = "`$(`$stats.Status)"
`$r.Console1 = @(Get-MyVmConsole -Name 'brvm')

`$stop = Stop-MyVm -Name 'brvm' -PassThru
`$r.StopStatus1 = "`$(`$stop.Status)"
`$r.DevicesAfterStop1 = @(Get-MyHvNetDeviceName)

Start-MyVm -Name 'brvm' -Wait -TimeoutSeconds 120
`$info = Get-MyVm -Name 'brvm'
`$r.Status2 = "`$(`$info.Status)"
`$r.Mac2 = `$info.MacAddress
`$q = Get-QemuNetArgs `$info.Pid
`$r.QemuMac2 = `$q.Mac
`$r.QemuNetdev2 = `$q.Netdev
`$r.DevicesRunning2 = @(Get-MyHvNetDeviceName)
# Crash recovery: QEMU killed, the next command's reconciliation deletes the TAP device.
& kill -9 `$info.Pid
`$deadline = [DateTime]::UtcNow.AddSeconds(15)
while ([DateTime]::UtcNow -lt `$deadline -and (Get-Content "/proc/`$(`$info.Pid)/stat" -ErrorAction SilentlyContinue) -notmatch '\) Z |^`$') { Start-Sleep -Milliseconds 100 }
`$crashed = Get-MyVm -Name 'brvm'
`$r.StatusAfterCrash = "`$(`$crashed.Status)"
`$r.DevicesAfterCrash = @(Get-MyHvNetDeviceName)
Remove-MyVm -Name 'brvm', 'brvm2' -Force
`$r.DevicesAtEnd = @(Get-MyHvNetDeviceName)
"@
        $script:run = Invoke-MyHvChild -Namespace $script:ns -Body $body
        $script:r = $script:run.Result
        if (-not $script:r -or ($script:r.PSObject.Properties.Name -contains 'Error')) {
            Write-Host ($script:run.Output -join "`n")
        }
    }

    It 'runs the module inside the namespace without error' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:run.ExitCode | Should -Be 0
        $script:r | Should -Not -BeNullOrEmpty
        ($script:r.PSObject.Properties.Name -contains 'Error') | Should -BeFalse -Because "the child said: $($script:r.PSObject.Properties['Error'].Value) $($script:r.PSObject.Properties['ErrorAt'].Value)"
    }

    It 'creates a TAP device named mh* (max 15 chars) attached to the bridge and up, only while it runs' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:r.Tap | Should -Match '^mh[0-9a-z]{1,13}$'
        $script:r.Other | Should -Match '^mh'
        $script:r.Other | Should -Not -Be $script:r.Tap
        @($script:r.DevicesBeforeStart) | Should -BeNullOrEmpty
        $script:r.DevicesRunning | Should -Contain $script:r.Tap
        $script:r.TapMaster | Should -Be 'br0'
        ([Convert]::ToInt32($script:r.TapOperState.Trim(), 16) -band 1) | Should -Be 1 -Because 'IFF_UP is set'
        $script:r.QemuNetdev1 | Should -Match "ifname=$($script:r.Tap)(,|$)"
    }

    It 'gives the guest its address: the guest answers ping from the bridge side' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        Skip-UnlessPrerequisite -Name 'ping (iputils-ping or busybox)' -Condition (Get-MyHvPingCommand)
        $script:r.Status1 | Should -Be 'Running'
        $script:r.Console1 | Should -Contain 'myhv-guest: eth0 10.77.0.2/24 via 10.77.0.1'
        $script:r.PingExit | Should -Be 0 -Because ($script:r.PingOutput -join "`n")
        ($script:r.PingOutput -join "`n") | Should -Match 'from 10\.77\.0\.2'
    }

    It 'reports non-zero receive and transmit bytes from the TAP device' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:r.StatsStatus | Should -Be 'Running'
        $script:r.NetRxBytes | Should -BeGreaterThan 0
        $script:r.NetTxBytes | Should -BeGreaterThan 0
    }

    It 'keeps the MAC address across starts (Get-MyVm and QEMU command line agree)' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:r.Mac1 | Should -Match '^52:54:00(:[0-9a-f]{2}){3}$'
        $script:r.Mac1 | Should -Be $script:r.NewMac
        $script:r.QemuMac1 | Should -Be $script:r.Mac1
        $script:r.Status2 | Should -Be 'Running'
        $script:r.Mac2 | Should -Be $script:r.Mac1
        $script:r.QemuMac2 | Should -Be $script:r.Mac1
        $script:r.QemuNetdev2 | Should -Match "ifname=$($script:r.Tap)(,|$)"
    }

    It 'deletes the TAP device at stop: no mh* device remains in the namespace' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:r.StopStatus1 | Should -Be 'Stopped'
        @($script:r.DevicesAfterStop1) | Should -BeNullOrEmpty
        $script:r.DevicesRunning2 | Should -Contain $script:r.Tap
        @(Get-MyHvNamespaceDevice -Namespace $script:ns) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }

    It 'deletes the TAP device on crash recovery (QEMU killed with SIGKILL)' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $script:r.StatusAfterCrash | Should -Be 'Failed'
        @($script:r.DevicesAfterCrash) | Should -BeNullOrEmpty
        @($script:r.DevicesAtEnd) | Should -BeNullOrEmpty
    }
}

Describe 'Bridge missing at start' {
    It 'a bridge deleted after New-MyVm fails the start with InvalidVmSpec and creates nothing' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $body = @'
& ip link add br9 type bridge
New-MyVm -Name 'gone' -Bridge br9 -IPAddress 10.77.0.4/24 | Out-Null
& ip link delete br9
try { Start-MyVm -Name 'gone' -ErrorAction Stop; $r.Started = $true } catch { $r.StartErrorId = $_.FullyQualifiedErrorId; $r.StartError = "$_" }
$r.Devices = @(Get-MyHvNetDeviceName)
$r.RunDir = Test-Path (Join-Path $env:MYHV_HOME 'run/gone')
$r.Disk = Test-Path (Join-Path $env:MYHV_HOME 'vms/gone/disk.qcow2')
$r.Status = "$((Get-MyVm -Name 'gone').Status)"
Remove-MyVm -Name 'gone' -Force
'@
        $run = Invoke-MyHvChild -Namespace $script:ns -Body $body
        $r = $run.Result
        $r | Should -Not -BeNullOrEmpty -Because ($run.Output -join "`n")
        ($r.PSObject.Properties.Name -contains 'Error') | Should -BeFalse -Because "$($r.PSObject.Properties['Error'].Value)"
        ($r.PSObject.Properties.Name -contains 'Started') | Should -BeFalse
        $r.StartErrorId | Should -BeLike 'InvalidVmSpec*'
        $r.StartError | Should -Match 'br9'
        @($r.Devices) | Should -BeNullOrEmpty
        $r.RunDir | Should -BeFalse
        $r.Disk | Should -BeFalse
        $r.Status | Should -Be 'Stopped'
    }
}

Describe 'Fail point start.network' {
    It 'start.network=error: VmStartFailed naming the step, the TAP device is removed, the next start succeeds' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $body = @'
New-MyVm -Name 'fpnete' -Bridge br0 -IPAddress 10.77.0.5/24 | Out-Null
$env:MYHV_FAILPOINTS = 'start.network=error'
try { Start-MyVm -Name 'fpnete' -Verbose -ErrorAction Stop 4>&1 | Out-Null; $r.Started = $true }
catch { $r.StartErrorId = $_.FullyQualifiedErrorId; $r.StartError = "$_" }
$env:MYHV_FAILPOINTS = $null
$vm = Get-MyVm -Name 'fpnete'
$r.Status = "$($vm.Status)"
$r.Reason = $vm.StatusReason
$r.Devices = @(Get-MyHvNetDeviceName)
$r.RunDir = Test-Path (Join-Path $env:MYHV_HOME 'run/fpnete')
$r.Journal = Test-Path (Join-Path $env:MYHV_HOME 'vms/fpnete/start.journal')
$r.Disk = Test-Path (Join-Path $env:MYHV_HOME 'vms/fpnete/disk.qcow2')
$r.Leftovers = @(Get-MyHvLeftover -Home $env:MYHV_HOME)
$next = Start-MyVm -Name 'fpnete' -PassThru
$r.NextStatus = "$($next.Status)"
$r.NextDevices = @(Get-MyHvNetDeviceName)
$r.Tap = $next.TapDevice
Stop-MyVm -Name 'fpnete' -Force
$r.DevicesAfterStop = @(Get-MyHvNetDeviceName)
Remove-MyVm -Name 'fpnete' -Force
'@
        $run = Invoke-MyHvChild -Namespace $script:ns -Body $body
        $r = $run.Result
        $r | Should -Not -BeNullOrEmpty -Because ($run.Output -join "`n")
        ($r.PSObject.Properties.Name -contains 'Error') | Should -BeFalse -Because "$($r.PSObject.Properties['Error'].Value) $($r.PSObject.Properties['ErrorAt'].Value)"
        ($r.PSObject.Properties.Name -contains 'Started') | Should -BeFalse
        $r.StartErrorId | Should -BeLike 'VmStartFailed*'
        $r.StartError | Should -Match "step 'network'"
        $r.Status | Should -Be 'Failed'
        $r.Reason | Should -Match 'network'
        @($r.Devices) | Should -BeNullOrEmpty
        $r.RunDir | Should -BeFalse
        $r.Journal | Should -BeFalse
        $r.Disk | Should -BeFalse
        @($r.Leftovers) | Should -BeNullOrEmpty
        $r.NextStatus | Should -Be 'Running'
        $r.NextDevices | Should -Contain $r.Tap
        @($r.DevicesAfterStop) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }

    It 'start.network=kill: the killed start leaves its TAP, the next Get-MyVm (another process) rolls it back, the next start succeeds' {
        Skip-UnlessPrerequisite -Name 'root and iproute2 (ip)' -Condition $script:ip
        $killed = Invoke-MyHvChild -Namespace $script:ns -Environment @{ MYHV_FAILPOINTS = 'start.network=kill' } -Body @'
$vm = New-MyVm -Name 'fpnetk' -Bridge br0 -IPAddress 10.77.0.6/24
'MHSTEP created ' + $vm.TapDevice
Start-MyVm -Name 'fpnetk'
$r.Survived = $true
'@
        $killed.Result | Should -BeNullOrEmpty -Because 'the process killed itself at the fail point'
        $killed.ExitCode | Should -Not -Be 0
        $marker = @($killed.Output | Where-Object { $_ -like 'MHSTEP created *' })
        $marker.Count | Should -Be 1 -Because ($killed.Output -join "`n")
        $tap = $marker[0].Substring('MHSTEP created '.Length).Trim()
        # The kill really came after the TAP existed, and nothing has cleaned up yet.
        Get-MyHvNamespaceDevice -Namespace $script:ns | Should -Contain $tap
        Test-Path -LiteralPath (Join-Path $script:testHome 'vms/fpnetk/start.journal') | Should -BeTrue

        $body = @'
$vm = Get-MyVm -Name 'fpnetk'
$r.Status = "$($vm.Status)"
$r.Reason = $vm.StatusReason
$r.Devices = @(Get-MyHvNetDeviceName)
$r.RunDir = Test-Path (Join-Path $env:MYHV_HOME 'run/fpnetk')
$r.Journal = Test-Path (Join-Path $env:MYHV_HOME 'vms/fpnetk/start.journal')
$r.Leftovers = @(Get-MyHvLeftover -Home $env:MYHV_HOME)
$next = Start-MyVm -Name 'fpnetk' -PassThru
$r.NextStatus = "$($next.Status)"
$r.NextDevices = @(Get-MyHvNetDeviceName)
Stop-MyVm -Name 'fpnetk' -Force
$r.DevicesAfterStop = @(Get-MyHvNetDeviceName)
Remove-MyVm -Name 'fpnetk' -Force
'@
        $run = Invoke-MyHvChild -Namespace $script:ns -Body $body
        $r = $run.Result
        $r | Should -Not -BeNullOrEmpty -Because ($run.Output -join "`n")
        ($r.PSObject.Properties.Name -contains 'Error') | Should -BeFalse -Because "$($r.PSObject.Properties['Error'].Value) $($r.PSObject.Properties['ErrorAt'].Value)"
        $r.Status | Should -Be 'Failed'
        $r.Reason | Should -Match "interrupted at step 'network'"
        @($r.Devices) | Should -BeNullOrEmpty
        $r.RunDir | Should -BeFalse
        $r.Journal | Should -BeFalse
        @($r.Leftovers) | Should -BeNullOrEmpty
        $r.NextStatus | Should -Be 'Running'
        $r.NextDevices | Should -Contain $tap
        @($r.DevicesAfterStop) | Should -BeNullOrEmpty
        @(Get-MyHvNamespaceDevice -Namespace $script:ns) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }
}
