# Runner: host-exclusive
# Records are validated before they are acted on. A hand-edited state.json or start.journal is a plan
# to delete, unmount or signal things: each record below points outside the VM's reach, and each is
# reported (a Problems entry on Get-MyVm, a "refused" leftover on Repair-MyVm and Remove-MyVm) and
# never executed. Every case has a would-be victim outside the VM (a folder, a file, a network
# device in a test namespace, a process whose command line mentions the path) that must survive
# the three commands that act on records: Get-MyVm (the reconciler tears down a dead run),
# Repair-MyVm and Remove-MyVm -Force. Also: a definition whose name is not its folder's, a state
# that names a live process that is not this VM's QEMU, an orphaned journal, and a VM folder copied
# by hand (cp -a) from a running VM.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:outside = New-MyHvTestDir -Prefix 'hrS'      # the victims live here, outside the home
    $script:bootId = [System.IO.File]::ReadAllText('/proc/sys/kernel/random/boot_id').Trim()
    $script:sentinels = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()
    $script:vm = 'rec'
    $script:paths = Get-MyHvVmPath -HomePath $vmHome -Name $vm
    # Programs with names of their own (copies of sleep), so even a broken module could only hit these.
    $null = New-Item -ItemType Directory -Path "$outside/bin"
    Copy-Item -LiteralPath /usr/bin/sleep -Destination "$outside/bin/hrsentinel"
    Copy-Item -LiteralPath /usr/bin/sleep -Destination "$outside/bin/qemu-system-x86_64"

    function Start-Sentinel {
        # A copy of sleep whose argv[0] is -Argv0 (so its command line mentions a path), running 600 s.
        param([string] $Program, [string] $Argv0)
        $info = [System.Diagnostics.ProcessStartInfo]::new('bash')
        $info.UseShellExecute = $false
        $info.RedirectStandardInput = $true
        foreach ($a in '-c', 'exec -a "$0" "$@"', $Argv0, $Program, '600') { $info.ArgumentList.Add($a) }
        $p = [System.Diagnostics.Process]::Start($info)
        $sentinels.Add($p)
        Wait-MyHvCondition -TimeoutSeconds 30 -Because "the sentinel $($p.Id) to exec $Program" -Condition {
            try { (Get-Item -LiteralPath "/proc/$($p.Id)/exe" -Force).Target -eq $Program } catch { $false }
        }.GetNewClosure()
        $p
    }

    function Get-IdentityJson {
        param([int] $ProcessId)
        $id = [MyHypervisor.Core.Processes.ProcessLiveness]::Identify($ProcessId)
        [ordered]@{ pid = $id.Pid; startTicks = $id.StartTicks; bootId = $id.BootId; executable = $id.Executable }
    }

    function Reset-Vm {
        Get-MyVm -Name $vm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue
        if (Test-Path -LiteralPath $paths.VmDir) { Remove-Item -LiteralPath $paths.VmDir -Recurse -Force }
        if (Test-Path -LiteralPath $paths.RunDir) { Remove-Item -LiteralPath $paths.RunDir -Recurse -Force }
        $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 128 -ErrorAction Stop
    }

    function Write-State {
        # A Running state with no live hypervisor: the next look at the VM tears its run's artifacts down.
        param([object[]] $Artifacts, [object] $Hypervisor, [string] $Status = 'Running')
        $state = [ordered]@{ status = $Status; artifacts = @($Artifacts) }
        if ($Hypervisor) { $state.hypervisor = $Hypervisor }
        Set-Content -LiteralPath $paths.State -Value ($state | ConvertTo-Json -Depth 10)
    }

    function New-Case {
        # The record of one case and a script block that is true while its victim is untouched.
        param([string] $Case)
        $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
        switch ($Case) {
            'Directory outside the home' {
                $victim = "$outside/dir-$id"; $null = New-Item -ItemType Directory -Path $victim; Set-Content "$victim/keep" 'x'
                return @{ Record = @{ seq = 1; kind = 'Directory'; step = 'runtime-dir'; path = $victim }; Alive = { Test-Path "$victim/keep" }.GetNewClosure() }
            }
            'Directory in the runtime folder that leads outside through a symbolic link' {
                $victim = "$outside/linked-$id"; $null = New-Item -ItemType Directory -Path "$victim/sub"; Set-Content "$victim/sub/keep" 'x'
                $null = New-Item -ItemType Directory -Path "$vmHome/run" -Force
                $null = New-Item -ItemType SymbolicLink -Path $paths.RunDir -Target $victim
                return @{ Record = @{ seq = 1; kind = 'Directory'; step = 'runtime-dir'; path = "$($paths.RunDir)/sub" }; Alive = { Test-Path "$victim/sub/keep" }.GetNewClosure() }
            }
            'File outside the home' {
                $victim = "$outside/file-$id"; Set-Content $victim 'x'
                return @{ Record = @{ seq = 1; kind = 'File'; step = 'guest-channel'; path = $victim }; Alive = { Test-Path $victim }.GetNewClosure() }
            }
            'File with a relative path' {
                Push-Location $outside
                $victim = "$outside/rel-$id"; Set-Content $victim 'x'
                return @{ Record = @{ seq = 1; kind = 'File'; step = 'guest-channel'; path = "rel-$id" }; Alive = { Test-Path $victim }.GetNewClosure(); Cwd = $true }
            }
            'HelperLockFile outside /run/virtiofsd' {
                $victim = "$outside/lock-$id.pid"; Set-Content $victim 'x'
                return @{ Record = @{ seq = 1; kind = 'HelperLockFile'; step = 'volumes'; path = $victim }; Alive = { Test-Path $victim }.GetNewClosure() }
            }
            'OverlayDisk that is not the VM''s disk' {
                $victim = "$outside/disk-$id.qcow2"; Set-Content $victim 'x'
                return @{ Record = @{ seq = 1; kind = 'OverlayDisk'; step = 'storage'; scope = 'Attempt'; path = $victim }; Alive = { Test-Path $victim }.GetNewClosure() }
            }
            'Mount outside the runtime folder' {
                $victim = "$outside/mnt-$id"; $null = New-Item -ItemType Directory -Path $victim
                return @{ Record = @{ seq = 1; kind = 'Mount'; step = 'volumes'; path = $victim }; Alive = { Test-Path $victim }.GetNewClosure() }
            }
            'CommittedState naming another file' {
                $victim = "$outside/state-$id.json"; Set-Content $victim '{"attempt":"11111111-1111-1111-1111-111111111111"}'
                return @{ Record = @{ seq = 1; kind = 'CommittedState'; step = 'prepare'; scope = 'Attempt'; path = $victim; previousContent = 'overwritten'; attempt = '11111111-1111-1111-1111-111111111111' }
                    Alive = { (Get-Content -Raw $victim) -match '11111111' }.GetNewClosure() }
            }
            'ReplacedDefinition naming another file' {
                $victim = "$outside/definition-$id.json"; Set-Content $victim '{"name":"kept"}'
                return @{ Record = @{ seq = 1; kind = 'ReplacedDefinition'; step = 'storage'; scope = 'Attempt'; path = $victim; previousContent = "{`"name`":`"$vm`"}" }
                    Alive = { (Get-Content -Raw $victim) -match 'kept' }.GetNewClosure() }
            }
            'Process with an empty marker' {
                $p = Start-Sentinel -Program "$outside/bin/hrsentinel" -Argv0 "$($paths.RunDir)/fs-a.sock"
                return @{ Record = @{ seq = 1; kind = 'Process'; step = 'volumes'; program = "$outside/bin/hrsentinel"; marker = '' }; Alive = { Test-MyHvProcessAlive -ProcessId $p.Id }.GetNewClosure() }
            }
            'Process with a relative marker' {
                $p = Start-Sentinel -Program "$outside/bin/hrsentinel" -Argv0 "x/run/$vm/fs-a.sock"
                return @{ Record = @{ seq = 1; kind = 'Process'; step = 'volumes'; program = "$outside/bin/hrsentinel"; marker = "run/$vm/" }; Alive = { Test-MyHvProcessAlive -ProcessId $p.Id }.GetNewClosure() }
            }
            'Process whose marker is a substring of another home''s path' {
                # A valid-looking record (QEMU, this VM's pid file); the victim is a "QEMU" of a home whose path ends with this one.
                $p = Start-Sentinel -Program "$outside/bin/qemu-system-x86_64" -Argv0 "$outside/nest$($paths.PidFile)"
                return @{ Record = @{ seq = 1; kind = 'Process'; step = 'hypervisor-launch'; program = '/usr/bin/qemu-system-x86_64'; marker = $paths.PidFile }
                    Alive = { Test-MyHvProcessAlive -ProcessId $p.Id }.GetNewClosure(); Executed = $true }
            }
            'Process whose recorded pid is a live process of another program' {
                $p = Start-Sentinel -Program "$outside/bin/hrsentinel" -Argv0 "$($paths.RunDir)/fs-a.sock"
                return @{ Record = @{ seq = 1; kind = 'Process'; step = 'volumes'; program = "$outside/bin/hrsentinel"; marker = "--socket-path=$($paths.RunDir)/fs-a.sock"; process = (Get-IdentityJson $p.Id) }
                    Alive = { Test-MyHvProcessAlive -ProcessId $p.Id }.GetNewClosure() }
            }
            'Process whose recorded pid runs a program of that name but without the marker' {
                $p = Start-Sentinel -Program "$outside/bin/qemu-system-x86_64" -Argv0 'qemu-system-x86_64'
                return @{ Record = @{ seq = 1; kind = 'Process'; step = 'hypervisor-launch'; program = '/usr/bin/qemu-system-x86_64'; marker = $paths.PidFile; process = (Get-IdentityJson $p.Id) }
                    Alive = { Test-MyHvProcessAlive -ProcessId $p.Id }.GetNewClosure(); Executed = $true }
            }
        }
        throw "unknown case $Case"
    }
}

AfterAll {
    foreach ($p in $script:sentinels) { try { if (-not $p.HasExited) { $p.Kill() }; $null = $p.WaitForExit(5000) } catch { } }
    if ($script:netns) {
        $null = Invoke-MyHvChild -Netns $script:netns -Environment @{ MYHV_HOME = $script:vmHome } -ScriptBlock {
            Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue; $true
        }
        Remove-MyHvTestNamespace -Name $script:netns
    }
    if ($script:vmHome) { Complete-MyHvTestSuite -RemoveHome -HomePath $script:vmHome }
    if ($script:outside) { Remove-Item -LiteralPath $script:outside -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Hand-edited records are reported and never executed' {

    It '<Case>: reported by Get-MyVm, Repair-MyVm and Remove-MyVm, and its victim survives all three' -ForEach @(
        @{ Case = 'Directory outside the home' }
        @{ Case = 'Directory in the runtime folder that leads outside through a symbolic link' }
        @{ Case = 'File outside the home' }
        @{ Case = 'File with a relative path' }
        @{ Case = 'HelperLockFile outside /run/virtiofsd' }
        @{ Case = 'OverlayDisk that is not the VM''s disk' }
        @{ Case = 'Mount outside the runtime folder' }
        @{ Case = 'CommittedState naming another file' }
        @{ Case = 'ReplacedDefinition naming another file' }
        @{ Case = 'Process with an empty marker' }
        @{ Case = 'Process with a relative marker' }
        @{ Case = 'Process whose marker is a substring of another home''s path' }
        @{ Case = 'Process whose recorded pid is a live process of another program' }
        @{ Case = 'Process whose recorded pid runs a program of that name but without the marker' }
    ) {
        Reset-Vm
        $c = New-Case -Case $Case
        try {
            & $c.Alive | Should -BeTrue -Because 'precondition: the victim exists'
            Write-State -Artifacts @($c.Record)

            # 1. Get-MyVm: the reconciler finds the run dead and undoes its records, checked first.
            $info = Get-MyVm -Name $vm -ErrorAction Stop
            "$($info.Status)" | Should -BeIn @('Stopped', 'Failed')
            & $c.Alive | Should -BeTrue -Because 'Get-MyVm must not execute the record'
            if (-not $c.Executed) {
                ($info.Problems -join "`n") | Should -Match 'untrusted record' -Because 'the record is reported with the VM'
            }

            # 2. Repair-MyVm: it retries kept records, and reports what it refused.
            $repair = Repair-MyVm -Name $vm -ErrorAction Stop
            & $c.Alive | Should -BeTrue -Because 'Repair-MyVm must not execute the record'
            if (-not $c.Executed) { ($repair.Leftovers -join "`n") | Should -Match 'refused, not acted on' }

            # 3. Remove-MyVm -Force: everything of the VM goes, the record's target stays.
            Write-State -Artifacts @($c.Record)
            $warnings = $null
            Remove-MyVm -Name $vm -Force -Confirm:$false -ErrorAction Stop -WarningVariable warnings -WarningAction SilentlyContinue
            & $c.Alive | Should -BeTrue -Because 'Remove-MyVm must not execute the record'
            if (-not $c.Executed) { ($warnings -join "`n") | Should -Match 'refused, not acted on' }
            $paths.VmDir | Should -Not -Exist
        }
        finally {
            if ($c.Cwd) { Pop-Location }
            if ((Get-Item -LiteralPath $paths.RunDir -Force -ErrorAction SilentlyContinue).LinkType) { Remove-Item -LiteralPath $paths.RunDir -Force }
        }
    }

    It 'a state naming a live process that is not this VM''s QEMU as its hypervisor: Failed with the reason, and Stop-MyVm never signals it' {
        Reset-Vm
        $p = Start-Sentinel -Program "$outside/bin/qemu-system-x86_64" -Argv0 'qemu-system-x86_64'
        Write-State -Artifacts @() -Hypervisor (Get-IdentityJson $p.Id)
        $info = Get-MyVm -Name $vm -ErrorAction Stop
        "$($info.Status)" | Should -Be 'Failed'
        $info.StatusReason | Should -Match 'not this VM''s QEMU'
        Write-State -Artifacts @() -Hypervisor (Get-IdentityJson $p.Id)
        Stop-MyVm -Name $vm -Force -ErrorAction Stop
        Start-Sleep -Milliseconds 300
        Test-MyHvProcessAlive -ProcessId $p.Id | Should -BeTrue -Because 'the impostor is never signalled'
        { Get-MyVmStats -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotRunning*'
        Test-MyHvProcessAlive -ProcessId $p.Id | Should -BeTrue
    }

    It 'an orphaned start journal with a Directory record outside the home: the recovery refuses it, reports it, and the folder survives' {
        Reset-Vm
        $victim = "$outside/journal-victim"; $null = New-Item -ItemType Directory -Path $victim -Force; Set-Content "$victim/keep" 'x'
        $begin = @{ type = 'begin'; begin = @{ owner = @{ pid = 2147483000; startTicks = 1; bootId = $bootId; executable = '/usr/bin/pwsh' }; attempt = [guid]::NewGuid(); startedAt = [DateTimeOffset]::UtcNow } }
        $record = @{ type = 'artifact'; record = @{ seq = 1; kind = 'Directory'; step = 'runtime-dir'; path = $victim } }
        Set-Content -LiteralPath $paths.Journal -Value @(($begin | ConvertTo-Json -Compress -Depth 5), ($record | ConvertTo-Json -Compress -Depth 5))
        $info = Get-MyVm -Name $vm -ErrorAction Stop
        "$($info.Status)" | Should -Be 'Failed'
        $info.StatusReason | Should -Match 'refused, not acted on'
        "$victim/keep" | Should -Exist
        $null = Repair-MyVm -Name $vm -ErrorAction Stop
        Remove-MyVm -Name $vm -Force -Confirm:$false -WarningAction SilentlyContinue -ErrorAction Stop
        "$victim/keep" | Should -Exist
    }

    It 'a definition whose name differs from its folder: reported as Failed naming the field; start refused; the VM it names is untouched' {
        Reset-Vm
        $null = New-MyVm -Name 'alpha' -Image tiny -MemoryMiB 128 -ErrorAction Stop
        $alpha = Get-MyHvVmPath -HomePath $vmHome -Name 'alpha'
        $definition = Get-Content -Raw $alpha.State.Replace('state.json', 'definition.json') | ConvertFrom-Json -AsHashtable
        $definition.name = $vm
        Set-Content -LiteralPath (Join-Path $alpha.VmDir 'definition.json') -Value ($definition | ConvertTo-Json -Depth 10)
        $before = @(Get-ChildItem -LiteralPath $paths.VmDir -Force | ForEach-Object Name) | Sort-Object

        $info = Get-MyVm -Name 'alpha' -ErrorAction Stop
        "$($info.Status)" | Should -Be 'Failed'
        $info.StatusReason | Should -Match 'definition\.json'
        $info.StatusReason | Should -Match "field 'name' is '$vm' but the folder is 'alpha'"
        { Start-MyVm -Name 'alpha' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        @(Get-ChildItem -LiteralPath $paths.VmDir -Force | ForEach-Object Name) | Sort-Object | Should -Be $before -Because "nothing was created in VM '$vm''s folder"
        $paths.RunDir | Should -Not -Exist
        @(Get-MyHvProcess -Needle "$vmHome/" | Where-Object { $_.Program -eq 'qemu-system-x86_64' -and $_.Pid -notin $sentinels.Id }) | Should -BeNullOrEmpty
        (Get-MyVm -Name $vm).Status | Should -Be 'Stopped'
        Remove-MyVm -Name 'alpha' -Force -Confirm:$false -ErrorAction Stop
        $alpha.VmDir | Should -Not -Exist
        $paths.VmDir | Should -Exist
    }
}

Describe 'TAP records name only the VM''s own device (in a test network namespace)' {

    It 'a TapDevice record naming <Case>: reported and the device survives Get, Repair and Remove' -ForEach @(
        @{ Case = 'a bridge without the mh prefix'; Device = 'hrbr0' }
        @{ Case = 'an mh-prefixed device that is not the VM''s'; Device = 'mhnotmine0' }
    ) {
        Skip-UnlessPrerequisite -Name 'root (ip netns)' -Condition { (& id -u) -eq '0' }
        if (-not $script:netns) { $script:netns = New-MyHvTestNamespace -Name ("hrns" + [guid]::NewGuid().ToString('N').Substring(0, 6)) -Bridge txbr0 -Address '' }
        & ip -n $script:netns link add $Device type bridge
        $LASTEXITCODE | Should -Be 0
        $run = Invoke-MyHvChild -Netns $script:netns -Environment @{ MYHV_HOME = $vmHome; HR_DEV = $Device } -ScriptBlock {
            Get-MyVm -Name 'tapvm' -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false
            $null = New-MyVm -Name 'tapvm' -Image tiny -Network Bridge -Bridge txbr0 -IPAddress 10.77.0.2/24 -ErrorAction Stop
            $state = Join-Path $env:MYHV_HOME 'vms/tapvm/state.json'
            $write = { Set-Content -LiteralPath $state -Value (@{ status = 'Running'; artifacts = @(@{ seq = 1; kind = 'TapDevice'; step = 'network'; name = $env:HR_DEV }) } | ConvertTo-Json -Depth 5) }
            & $write
            $info = Get-MyVm -Name 'tapvm'
            $afterGet = Test-Path "/sys/class/net/$env:HR_DEV"
            $repair = Repair-MyVm -Name 'tapvm'
            $afterRepair = Test-Path "/sys/class/net/$env:HR_DEV"
            & $write
            $warnings = $null
            Remove-MyVm -Name 'tapvm' -Force -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
            @{ Problems = ($info.Problems -join "`n"); Leftovers = ($repair.Leftovers -join "`n"); Warnings = ($warnings -join "`n")
               AfterGet = $afterGet; AfterRepair = $afterRepair; AfterRemove = (Test-Path "/sys/class/net/$env:HR_DEV") }
        }
        $run.Result | Should -Not -BeNullOrEmpty -Because ($run.Output -join "`n")
        $run.Result.AfterGet | Should -BeTrue
        $run.Result.AfterRepair | Should -BeTrue
        $run.Result.AfterRemove | Should -BeTrue
        Get-MyHvNamespaceDevice -Prefix '' -Namespace $script:netns | Should -Contain $Device
        $run.Result.Problems | Should -Match 'untrusted record.*TAP device'
        $run.Result.Leftovers | Should -Match 'refused, not acted on'
        $run.Result.Warnings | Should -Match 'refused, not acted on'
        & ip -n $script:netns link del $Device
    }
}

Describe 'A VM folder copied by hand' {

    It 'cp -a vms/web vms/web2 of a running VM: web2 is detected (its id belongs to web) and refused with advice; web keeps running' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $null = New-MyVm -Name 'web' -Image tiny -MemoryMiB 128 -ErrorAction Stop
        Start-MyVm -Name 'web' -ErrorAction Stop
        $web = Get-MyVm -Name 'web'
        "$($web.Status)" | Should -Be 'Running'
        & cp -a -- "$vmHome/vms/web" "$vmHome/vms/web2"
        $LASTEXITCODE | Should -Be 0

        $copy = Get-MyVm -Name 'web2' -ErrorAction Stop
        "$($copy.Status)" | Should -Be 'Failed'
        $copy.StatusReason | Should -Match "already belongs to VM 'web'"
        $copy.StatusReason | Should -Match 'New-MyVm'
        $copy.Pid | Should -BeNullOrEmpty
        { Start-MyVm -Name 'web2' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        { Stop-MyVm -Name 'web2' -Force -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        { Repair-MyVm -Name 'web2' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        $still = Get-MyVm -Name 'web'
        "$($still.Status)" | Should -Be 'Running' -Because 'the original is not affected by its copy'
        $still.Pid | Should -Be $web.Pid

        Remove-MyVm -Name 'web2' -Force -Confirm:$false -ErrorAction Stop
        "$vmHome/vms/web2" | Should -Not -Exist
        $after = Get-MyVm -Name 'web'
        "$($after.Status)" | Should -Be 'Running' -Because "removing the copy must not stop the original's QEMU or remove its files"
        $after.Pid | Should -Be $web.Pid
        Test-MyHvProcessAlive -ProcessId $web.Pid | Should -BeTrue
        (Get-MyHvVmPath -HomePath $vmHome -Name 'web').ApiSocket | Should -Exist
        (Get-MyHvVmPath -HomePath $vmHome -Name 'web').Overlay | Should -Exist
        Stop-MyVm -Name 'web' -Force -ErrorAction Stop
    }
}
