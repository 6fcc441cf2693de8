# Issue 3, acceptance 2: Start-MyVm twice, Get-MyVmStats on a stopped VM and an unknown name give
# the contract's error ids, with nothing else changed: every file under MYHV_HOME is byte-identical
# (same inode, same hash; a running guest's disk and console are compared by inode only, since the
# guest may write them) and the running VM keeps the same QEMU process. Also: a wildcard matching
# nothing is no error, and a corrupt state.json concerns that VM only (listed as Failed, its commands fail).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite   # this suite does not test the accelerator probe
    $script:savedAccel = $env:MYHV_ACCEL

    # 'run1' runs (its guest boots in the background), 'idle' is stopped with a disk from an earlier run.
    $null = New-MyVm -Name run1 -ErrorAction Stop
    $null = New-MyVm -Name idle -ErrorAction Stop
    $null = Start-MyVm -Name run1, idle -ErrorAction Stop
    $null = Stop-MyVm -Name idle -Force -ErrorAction Stop

    function Get-HomeSnapshot {
        Get-MyHvTreeSnapshot -Path $script:vmHome -IdentityOnly 'vms/run1/disk.qcow2', 'vms/run1/console.log'
    }

    function Get-RunningIdentity {
        # The running VM as Get-MyVm reports it, with the start time of that pid and the QEMU processes of its run.
        $vm = Get-MyVm -Name run1 -ErrorAction Stop
        [pscustomobject]@{
            Status     = "$($vm.Status)"
            Pid        = $vm.Pid
            StartTicks = if ($vm.Pid) { Get-MyHvProcessStartTicks -ProcessId $vm.Pid } else { $null }
            Processes  = @(Get-MyHvProcess -IncludeZombie -Marker "$script:vmHome/run/run1/" | ForEach-Object Pid)
        }
    }

    $script:running = Get-RunningIdentity
}

AfterAll {
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    $env:MYHV_ACCEL = $script:savedAccel
    Assert-MyHvNoLeftovers -Home $script:vmHome
    Remove-Item -LiteralPath $script:vmHome -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The fixture' {
    It 'has run1 running under one QEMU process and idle stopped with its disk' {
        $running.Status | Should -Be 'Running'
        $running.Pid | Should -BeGreaterThan 0
        $running.StartTicks | Should -Not -BeNullOrEmpty
        $running.Processes | Should -Be @($running.Pid)
        (Get-MyVm -Name idle -ErrorAction Stop).Status | Should -Be 'Stopped'
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/idle/disk.qcow2') | Should -BeTrue
    }
}

Describe 'Start-MyVm on a running VM' {
    It 'gives VmAlreadyRunning for that VM and changes nothing' {
        $before = Get-HomeSnapshot
        $r = Invoke-MyHvCapture { Start-MyVm -Name run1 -PassThru }
        $after = Get-HomeSnapshot

        $r.Terminated | Should -BeFalse   # a per-VM error, not a failed invocation
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*'
        $r.Errors[0].TargetObject | Should -Be 'run1'
        $after | Should -Be $before
        $now = Get-RunningIdentity
        $now.Status | Should -Be 'Running'
        $now.Pid | Should -Be $running.Pid
        $now.StartTicks | Should -Be $running.StartTicks
        $now.Processes | Should -Be @($running.Pid)
    }

    It 'with -ErrorAction Stop the error can be caught by its id' {
        $caught = $null
        try { Start-MyVm -Name run1 -ErrorAction Stop } catch { $caught = $_ }

        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'VmAlreadyRunning,*'
        $caught.Exception | Should -BeOfType ([MyHypervisor.Core.Errors.MyHvException])
        (Get-RunningIdentity).Pid | Should -Be $running.Pid
    }
}

Describe 'Get-MyVmStats on a stopped VM' {
    It 'gives VmNotRunning and changes nothing' {
        $before = Get-HomeSnapshot
        $r = Invoke-MyHvCapture { Get-MyVmStats -Name idle }
        $after = Get-HomeSnapshot

        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
        $r.Errors[0].TargetObject | Should -Be 'idle'
        $after | Should -Be $before
        (Get-MyVm -Name idle -ErrorAction Stop).Status | Should -Be 'Stopped'
        (Get-RunningIdentity).Pid | Should -Be $running.Pid
    }

    It 'a wildcard skips stopped VMs without an error and measures the running one' {
        $r = Invoke-MyHvCapture { Get-MyVmStats -Name '*' }

        $r.Errors | Should -BeNullOrEmpty
        @($r.Output | ForEach-Object Name) | Should -Be @('run1')
    }
}

Describe 'An unknown name' {
    It '<Command> gives VmNotFound and changes nothing' -ForEach @(
        @{ Command = 'Get-MyVm'; Script = { Get-MyVm -Name ghost } }
        @{ Command = 'Start-MyVm'; Script = { Start-MyVm -Name ghost -PassThru } }
        @{ Command = 'Start-MyVm -Wait'; Script = { Start-MyVm -Name ghost -Wait -TimeoutSeconds 5 } }
        @{ Command = 'Stop-MyVm'; Script = { Stop-MyVm -Name ghost -PassThru } }
        @{ Command = 'Stop-MyVm -Force'; Script = { Stop-MyVm -Name ghost -Force } }
        @{ Command = 'Remove-MyVm'; Script = { Remove-MyVm -Name ghost -Confirm:$false } }
        @{ Command = 'Remove-MyVm -Force'; Script = { Remove-MyVm -Name ghost -Force } }
        @{ Command = 'Get-MyVmStats'; Script = { Get-MyVmStats -Name ghost } }
        @{ Command = 'Get-MyVmConsole'; Script = { Get-MyVmConsole -Name ghost } }
        @{ Command = 'Stop-MyVm (name by property from the pipeline)'; Script = { [pscustomobject]@{ Name = 'ghost' } | Stop-MyVm } }
        @{ Command = 'Get-MyVmStats (name by value from the pipeline)'; Script = { 'ghost' | Get-MyVmStats } }
    ) {
        $before = Get-HomeSnapshot
        $r = Invoke-MyHvCapture $Script
        $after = Get-HomeSnapshot

        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VmNotFound,*'
        $r.Errors[0].TargetObject | Should -Be 'ghost'
        $after | Should -Be $before
        Test-Path -LiteralPath (Join-Path $vmHome 'locks/ghost.lock') | Should -BeFalse
        $now = Get-RunningIdentity
        $now.Pid | Should -Be $running.Pid
        $now.StartTicks | Should -Be $running.StartTicks
        $now.Processes | Should -Be @($running.Pid)
    }
}

Describe 'A wildcard that matches nothing' {
    It 'Get-MyVm returns nothing and no error' {
        $r = Invoke-MyHvCapture { Get-MyVm -Name 'zz*' }

        $r.Output | Should -BeNullOrEmpty
        $r.Errors | Should -BeNullOrEmpty
        { Get-MyVm -Name 'zz*' -ErrorAction Stop } | Should -Not -Throw
    }

    It 'nor do Get-MyVmStats, Stop-MyVm and Remove-MyVm, and nothing changes' {
        $before = Get-HomeSnapshot
        $r = Invoke-MyHvCapture { Get-MyVmStats -Name 'zz*'; Stop-MyVm -Name 'zz*' -PassThru; Remove-MyVm -Name 'zz*' -Force }
        $after = Get-HomeSnapshot

        $r.Output | Should -BeNullOrEmpty
        $r.Errors | Should -BeNullOrEmpty
        $after | Should -Be $before
    }
}

Describe 'A corrupt state.json (<Kind>)' -ForEach @(
    @{ Kind = 'truncated' }
    @{ Kind = 'empty' }
    @{ Kind = 'garbage' }
) {
    BeforeAll {
        $null = New-MyVm -Name broken -ErrorAction Stop
        $script:stateFile = Join-Path $vmHome 'vms/broken/state.json'
        $bytes = [System.IO.File]::ReadAllBytes($script:stateFile)
        switch ($Kind) {
            'truncated' { [System.IO.File]::WriteAllBytes($script:stateFile, $bytes[0..([int]($bytes.Length / 2))]) }
            'empty' { [System.IO.File]::WriteAllBytes($script:stateFile, [byte[]]::new(0)) }
            'garbage' { [System.IO.File]::WriteAllText($script:stateFile, "not json {`0`0") }
        }
        $script:corruptHash = (Get-FileHash -LiteralPath $script:stateFile).Hash
    }
    AfterAll {
        Remove-MyVm -Name broken -Force -ErrorAction SilentlyContinue
    }

    It 'Get-MyVm still lists the other VMs, and that VM as Failed with a clear reason (no error: one unreadable VM never breaks the listing)' {
        $r = Invoke-MyHvCapture { Get-MyVm }

        @($r.Output | ForEach-Object Name | Sort-Object) | Should -Be @('broken', 'idle', 'run1')
        ($r.Output | Where-Object Name -EQ 'run1').Status | Should -Be 'Running'
        $r.Errors.Count | Should -Be 0
        $bad = $r.Output | Where-Object Name -EQ 'broken'
        "$($bad.Status)" | Should -Be 'Failed'
        $bad.StatusReason | Should -BeLike "*'broken'*"
        $bad.StatusReason | Should -BeLike '*state.json*'
        $bad.StatusReason | Should -Match 'corrupt|truncated'
    }

    It 'commands that act on that VM fail with one clear error and leave the file as it is' {
        $r = Invoke-MyHvCapture { Get-MyVm -Name broken }
        $r.Errors.Count | Should -Be 0
        "$($r.Output.Status)" | Should -Be 'Failed'
        $r.Output.StatusReason | Should -BeLike '*state.json*'
        foreach ($command in { Start-MyVm -Name broken }, { Stop-MyVm -Name broken -Force }, { Get-MyVmStats -Name broken }) {
            $r = Invoke-MyHvCapture $command
            $r.Output | Should -BeNullOrEmpty
            $r.Errors.Count | Should -Be 1
            $r.Errors[0].TargetObject | Should -Be 'broken'
            $r.Errors[0].FullyQualifiedErrorId | Should -Match '^(VmNotFound|VmNotRunning|VmAlreadyRunning|VmBusy|InvalidVmName|InvalidVmSpec|ImageNotFound|VmStartFailed|PrerequisiteMissing),'
            $r.Errors[0].Exception.Message | Should -BeLike '*state.json*'
        }
        (Get-FileHash -LiteralPath $stateFile).Hash | Should -Be $corruptHash
        @(Get-MyHvProcess -IncludeZombie -Marker "$vmHome/run/broken/") | Should -BeNullOrEmpty
    }

    It 'the other VMs keep working' {
        (Get-MyVmStats -Name run1 -ErrorAction Stop).Pid | Should -Be $running.Pid
        (Get-MyVm -Name idle -ErrorAction Stop).Status | Should -Be 'Stopped'
    }

    It 'Remove-MyVm without -Force refuses, naming -Force; with -Force it removes the VM' {
        $r = Invoke-MyHvCapture { Remove-MyVm -Name broken -Confirm:$false }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].Exception.Message | Should -BeLike '*-Force*'
        Test-Path -LiteralPath $stateFile | Should -BeTrue

        Remove-MyVm -Name broken -Force -ErrorAction Stop

        Test-Path -LiteralPath (Join-Path $vmHome 'vms/broken') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $vmHome 'locks/broken.lock') | Should -BeFalse
        $r = Invoke-MyHvCapture { Get-MyVm }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output | ForEach-Object Name | Sort-Object) | Should -Be @('idle', 'run1')
    }
}
