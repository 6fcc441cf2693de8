# Processes are matched by exact identity: the module's program, and an argument EQUAL to a path the
# module owns (compared as whole paths), never a substring of the command line. Two homes where one
# path ends with the other ($root/vms and $root/nest$root/vms) run the same VM name side by side with
# real QEMU: stop, a rolled-back start, repair, remove and start in one leave the other's QEMU running
# and never refuse its start. Markers that are empty or relative match nothing.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Initialize-MyHvTestSuite -NoHome
    $script:root = New-MyHvTestDir -Prefix 'hrP'
    # B's path ends with A's: A's every path is a substring of B's same path.
    $script:homeA = "$root/vms"
    $script:homeB = "$root/nest$root/vms"
    foreach ($h in $homeA, $homeB) { $null = New-Item -ItemType Directory -Path $h -Force; & chmod 700 $h "$root/nest" 2>$null }
    & chmod -R go-rwx "$root/nest"
    $script:vm = 'web'

    function Use-Home { param([string] $HomePath) $env:MYHV_HOME = $HomePath }

    function Get-QemuPid {
        # The live QEMU of -HomePath's VM, found from /proc by its exact -pidfile argument.
        param([string] $HomePath)
        $pidFile = (Get-MyHvVmPath -HomePath $HomePath -Name $vm).PidFile
        @(Get-MyHvProcess -Needle $pidFile | Where-Object { $_.Program -eq 'qemu-system-x86_64' -and (" $($_.CommandLine) ").Contains(" $pidFile ") } | ForEach-Object Pid)
    }

    function Assert-Running {
        # -HomePath's VM runs, with one live QEMU that is the recorded one; returns its pid.
        param([string] $HomePath, [string] $Because)
        Use-Home $HomePath
        $info = Get-MyVm -Name $vm -ErrorAction Stop
        "$($info.Status)" | Should -Be 'Running' -Because $Because
        $qemu = @(Get-QemuPid -HomePath $HomePath)
        $qemu | Should -HaveCount 1 -Because $Because
        $qemu[0] | Should -Be $info.Pid
        Test-MyHvProcessAlive -ProcessId $info.Pid | Should -BeTrue -Because $Because
        $info.Pid
    }

    function Start-Vm {
        param([string] $HomePath)
        Use-Home $HomePath
        Start-MyVm -Name $vm -ErrorAction Stop
        Assert-Running -HomePath $HomePath -Because "precondition: the VM of $HomePath was just started"
    }
}

AfterAll {
    foreach ($h in $script:homeA, $script:homeB) {
        if (-not $h -or -not (Test-Path -LiteralPath $h)) { continue }
        $env:MYHV_HOME = $h
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    foreach ($h in $script:homeA, $script:homeB) { if ($h) { Assert-MyHvNoLeftovers -Home $h } }
    if ($script:root) { Remove-Item -LiteralPath $script:root -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Two homes, one path ending with the other, the same VM name in both' {

    It 'precondition: both homes create and run "web" side by side, each with its own QEMU' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $homeB.EndsWith($homeA) | Should -BeTrue
        foreach ($h in $homeA, $homeB) { Use-Home $h; $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop }
        $a = Start-Vm -HomePath $homeA
        $b = Start-Vm -HomePath $homeB
        $a | Should -Not -Be $b
    }

    It 'Stop-MyVm in the shorter home leaves the longer home''s QEMU running, and the reverse' {
        $b = Assert-Running -HomePath $homeB -Because 'precondition'
        Use-Home $homeA
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        (Get-MyVm -Name $vm).Status | Should -Be 'Stopped'
        Test-MyHvProcessAlive -ProcessId $b | Should -BeTrue -Because "A's stop must not end B's QEMU"
        (Assert-Running -HomePath $homeB -Because 'A''s stop left B alone') | Should -Be $b

        # A starts while B runs: B's QEMU has A's runtime paths as substrings, but not as arguments.
        $a = Start-Vm -HomePath $homeA
        Use-Home $homeB
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        Test-MyHvProcessAlive -ProcessId $a | Should -BeTrue
        (Assert-Running -HomePath $homeA -Because 'B''s stop left A alone') | Should -Be $a
        $null = Start-Vm -HomePath $homeB
    }

    It 'a rolled-back start in the shorter home (fail point after the launch) leaves the other home''s QEMU running' {
        $b = Assert-Running -HomePath $homeB -Because 'precondition'
        Use-Home $homeA
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        $env:MYHV_FAILPOINTS = 'start.api-ready=error'
        try { { Start-MyVm -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmStartFailed*' }
        finally { Remove-Item Env:MYHV_FAILPOINTS }
        @(Get-QemuPid -HomePath $homeA) | Should -BeNullOrEmpty -Because 'the rollback ended the QEMU it launched'
        Test-MyHvProcessAlive -ProcessId $b | Should -BeTrue -Because "A's rollback must not end B's QEMU"
        (Assert-Running -HomePath $homeB -Because 'A''s rollback left B alone') | Should -Be $b
    }

    It 'Repair-MyVm in the shorter home after its QEMU was killed leaves the other home''s QEMU running' {
        $b = Assert-Running -HomePath $homeB -Because 'precondition'
        $a = Start-Vm -HomePath $homeA
        Stop-MyHvProcess -ProcessId $a
        Use-Home $homeA
        $null = Repair-MyVm -Name $vm -ErrorAction Stop
        $null = Repair-MyVm -ErrorAction Stop   # all VMs, leftovers by name included
        "$((Get-MyVm -Name $vm).Status)" | Should -BeIn @('Failed', 'Stopped')
        Test-MyHvProcessAlive -ProcessId $b | Should -BeTrue -Because "A's repair must not end B's QEMU"
        (Assert-Running -HomePath $homeB -Because 'A''s repair left B alone') | Should -Be $b
        # (The census finds processes by substring, so B's QEMU shows up in A's: it is left out by pid.)
        @(Get-MyHvVmResidue -HomePath $homeA -Name $vm | Where-Object { $_ -notmatch "^process $b\b" }) | Should -BeNullOrEmpty
    }

    It 'Remove-MyVm -Force of a running VM in the shorter home leaves the other home''s QEMU running; a new VM of that name then starts' {
        $b = Assert-Running -HomePath $homeB -Because 'precondition'
        $null = Start-Vm -HomePath $homeA
        Use-Home $homeA
        Remove-MyVm -Name $vm -Force -Confirm:$false -ErrorAction Stop
        @(Get-MyVm) | Should -BeNullOrEmpty
        Test-MyHvProcessAlive -ProcessId $b | Should -BeTrue -Because "A's remove must not end B's QEMU"
        (Assert-Running -HomePath $homeB -Because 'A''s remove left B alone') | Should -Be $b
        Use-Home $homeA
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
        $null = Start-Vm -HomePath $homeA
    }

    It 'Remove-MyVm -Force in the longer home leaves the shorter home''s QEMU running' {
        $a = Assert-Running -HomePath $homeA -Because 'precondition'
        $null = Assert-Running -HomePath $homeB -Because 'precondition'
        Use-Home $homeB
        Remove-MyVm -Name $vm -Force -Confirm:$false -ErrorAction Stop
        @(Get-QemuPid -HomePath $homeB) | Should -BeNullOrEmpty
        (Assert-Running -HomePath $homeA -Because 'B''s remove left A alone') | Should -Be $a
        Use-Home $homeA
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        @(Get-MyHvVmResidue -HomePath $homeA -Name $vm) | Should -BeNullOrEmpty
    }
}

Describe 'Markers match whole arguments only (Core)' {

    It 'an argument equal to the marker matches; one that merely contains or ends with it does not' {
        $m = [MyHypervisor.Core.Processes.ProcessMarkers]
        $m::Matches("$homeA/run/web/hypervisor.pid", "$homeA/run/web/hypervisor.pid") | Should -BeTrue
        $m::Matches("$homeA/run/web/hypervisor.pid", "$homeB/run/web/hypervisor.pid") | Should -BeFalse
        $m::Matches("--socket-path=$homeA/run/web/fs-a.sock", "--socket-path=$homeA/run/web/fs-a.sock") | Should -BeTrue
        $m::Matches("--socket-path=$homeA/run/web/fs-a.sock", "--socket-path=$homeB/run/web/fs-a.sock") | Should -BeFalse
        # A folder marker: a path whose parent folder is exactly that folder.
        $m::Matches("$homeA/run/web/", "$homeA/run/web/api.sock") | Should -BeTrue
        $m::Matches("$homeA/run/web/", "--socket-path=$homeA/run/web/fs-a.sock") | Should -BeTrue
        $m::Matches("$homeA/run/web/", "$homeB/run/web/api.sock") | Should -BeFalse
        $m::Matches("$homeA/run/web/", "$homeA/run/web2/api.sock") | Should -BeFalse
        $m::Matches("$homeA/run/web/", "$homeA/run/web/../x") | Should -BeFalse
        $m::Matches("$homeA/run/web/", "unix:$homeA/run/web/api.sock,server=on") | Should -BeFalse
    }

    It 'empty, relative and non-canonical markers are refused and match nothing (<Marker>)' -ForEach @(
        @{ Marker = '' }, @{ Marker = '/' }, @{ Marker = 'run/web/' }, @{ Marker = './hypervisor.pid' }, @{ Marker = '/x/../run/web/' }, @{ Marker = '//run//web/' }
    ) {
        [MyHypervisor.Core.Processes.ProcessMarkers]::Problem($Marker) | Should -Not -BeNullOrEmpty
        @([MyHypervisor.Core.Processes.ProcessLiveness]::FindByMarker($Marker, $null)) | Should -BeNullOrEmpty
    }
}
