# Runner: host-exclusive
# Issue 3, acceptance 3: four Start-MyVm on one VM at once, from four separate pwsh processes
# released together: exactly one starts it, the others fail cleanly (VmAlreadyRunning or VmBusy),
# one QEMU runs for the VM, and the record agrees. And the per-VM lock: while another holder has
# it, a writer waits briefly, fails with VmBusy and changes nothing.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:savedAccel = $env:MYHV_ACCEL
    $script:manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
    $script:signals = New-MyHvTestDir -Prefix 'mhC'

    # Runs $env:LC_ACTION once the go file exists; writes its outcome as JSON (atomically).
    $script:childScript = @'
$ErrorActionPreference = 'Stop'
Import-Module $env:LC_MODULE
[System.IO.File]::WriteAllText($env:LC_READY, "$PID")
$deadline = [DateTime]::UtcNow.AddSeconds(180)
while (-not [System.IO.File]::Exists($env:LC_GO)) {
    if ([DateTime]::UtcNow -gt $deadline) { throw 'the go signal never came' }
    [System.Threading.Thread]::Sleep(2)
}
$began = [DateTime]::UtcNow
$result = try {
    $out = & ([scriptblock]::Create($env:LC_ACTION))
    [ordered]@{ Outcome = 'ok'; Pid = $out.Pid; Status = "$($out.Status)" }
}
catch {
    [ordered]@{ Outcome = 'error'; ErrorId = $_.FullyQualifiedErrorId; Message = $_.Exception.Message }
}
$result.Began = $began.ToString('o')
$result.Ended = [DateTime]::UtcNow.ToString('o')
[System.IO.File]::WriteAllText("$($env:LC_RESULT).tmp", ($result | ConvertTo-Json))
[System.IO.File]::Move("$($env:LC_RESULT).tmp", $env:LC_RESULT)
'@

    function Invoke-Together {
        <# Starts one child pwsh per action, waits until all are ready, releases them at once, returns their outcomes. #>
        param([Parameter(Mandatory)] [string[]] $Action, [Parameter(Mandatory)] [string] $Tag)
        $go = Join-Path $script:signals "$Tag.go"
        $children = for ($i = 0; $i -lt $Action.Count; $i++) {
            $envVars = @{
                MYHV_HOME  = $script:vmHome; MYHV_ACCEL = 'tcg'; MYHV_FAILPOINTS = $null
                LC_MODULE  = $script:manifest; LC_ACTION = $Action[$i]; LC_GO = $go
                LC_READY   = Join-Path $script:signals "$Tag-$i.ready"
                LC_RESULT  = Join-Path $script:signals "$Tag-$i.json"
            }
            [pscustomobject]@{ Env = $envVars; Child = Start-MyHvPwsh -EncodedCommand $script:childScript -Environment $envVars }
        }
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(180)
            while (@($children | Where-Object { -not (Test-Path -LiteralPath $_.Env.LC_READY) }).Count -gt 0) {
                $dead = @($children | Where-Object { $_.Child.HasExited })
                if ($dead) { throw "A child exited before it was ready: $($dead[0].Child.StderrTask.Result)" }
                if ([DateTime]::UtcNow -gt $deadline) { throw 'The children did not get ready within 180 s' }
                Start-Sleep -Milliseconds 20
            }
            [System.IO.File]::WriteAllText($go, 'go')
            foreach ($c in $children) {
                $done = Wait-MyHvPwsh -Process $c.Child -TimeoutSeconds 300
                if ($done.ExitCode -ne 0 -or -not (Test-Path -LiteralPath $c.Env.LC_RESULT)) {
                    throw "A child failed (exit $($done.ExitCode)): $($done.Stderr) $($done.Stdout)"
                }
                Get-Content -Raw -LiteralPath $c.Env.LC_RESULT | ConvertFrom-Json
            }
        }
        finally {
            foreach ($c in $children) { if (-not $c.Child.HasExited) { $c.Child.Kill($true) } }
        }
    }
}

AfterAll {
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    $env:MYHV_ACCEL = $script:savedAccel
    Remove-Item -LiteralPath $script:signals -Recurse -Force -ErrorAction SilentlyContinue
    Assert-MyHvNoLeftovers -Home $script:vmHome
    Remove-Item -LiteralPath $script:vmHome -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Four Start-MyVm on one VM at once, from four processes' {
    BeforeAll {
        $null = New-MyVm -Name race -ErrorAction Stop
        $script:outcomes = @(Invoke-Together -Tag race -Action @(1..4 | ForEach-Object { 'Start-MyVm -Name race -PassThru -ErrorAction Stop' }))
        $began = @($outcomes | ForEach-Object { ([datetime] $_.Began).ToUniversalTime().Ticks })
        $spread = $began | Measure-Object -Maximum -Minimum
        Write-Host "Outcomes: $(($outcomes | ForEach-Object { if ($_.Outcome -eq 'ok') { "started pid $($_.Pid)" } else { ($_.ErrorId -split ',')[0] } }) -join '; ') (released within $([TimeSpan]::FromTicks($spread.Maximum - $spread.Minimum).TotalMilliseconds) ms)"
    }

    It 'exactly one of them starts the VM' {
        $outcomes.Count | Should -Be 4
        $winners = @($outcomes | Where-Object Outcome -EQ 'ok')
        $winners.Count | Should -Be 1
        $winners[0].Status | Should -Be 'Running'
        $winners[0].Pid | Should -BeGreaterThan 0
    }

    It 'the three others fail cleanly with VmAlreadyRunning or VmBusy' {
        $losers = @($outcomes | Where-Object Outcome -NE 'ok')
        $losers.Count | Should -Be 3
        foreach ($loser in $losers) {
            $loser.ErrorId | Should -Match '^(VmAlreadyRunning|VmBusy),'
            $loser.Message | Should -BeLike "*'race'*"
        }
    }

    It 'one QEMU process runs the VM, and the record agrees with it' {
        $winnerPid = @($outcomes | Where-Object Outcome -EQ 'ok')[0].Pid
        $qemu = @(Get-MyHvProcess -IncludeZombie -Marker "$vmHome/run/race/")
        $vm = Get-MyVm -Name race -ErrorAction Stop
        $state = Get-Content -Raw (Join-Path $vmHome 'vms/race/state.json') | ConvertFrom-Json

        $qemu.Count | Should -Be 1
        $qemu[0].Pid | Should -Be $winnerPid
        $qemu[0].CommandLine | Should -BeLike '*qemu-system-x86_64*'
        $vm.Status | Should -Be 'Running'
        $vm.Pid | Should -Be $winnerPid
        "$($state.Status)" | Should -Be 'Running'
        Test-Path -LiteralPath (Join-Path $vmHome 'vms/race/start.journal') | Should -BeFalse
        @(Get-ChildItem -LiteralPath (Join-Path $vmHome 'vms') -Force | Where-Object Name -Like '.*') | Should -BeNullOrEmpty
    }

    It 'the VM it started works: stats come from that process' {
        $stats = Get-MyVmStats -Name race -ErrorAction Stop
        $stats.Pid | Should -Be (Get-MyVm -Name race).Pid
        $stats.MemoryRssBytes | Should -BeGreaterThan 0
    }
}

Describe 'The per-VM lock' {
    BeforeAll {
        $null = New-MyVm -Name held -ErrorAction Stop
        if ((Get-MyVm -Name race -ErrorAction SilentlyContinue).Status -ne 'Running') { $null = Start-MyVm -Name race -ErrorAction Stop }
        $script:racePid = (Get-MyVm -Name race -ErrorAction Stop).Pid

        function Lock-Vm {
            # Holds a VM's lock as another command would: an exclusive open of locks/<name>.lock (flock).
            param([string] $Name)
            [System.IO.File]::Open((Join-Path $script:vmHome "locks/$Name.lock"), 'OpenOrCreate', 'ReadWrite', 'None')
        }
        function Get-HomeSnapshot {
            Get-MyHvTreeSnapshot -Path $script:vmHome -IdentityOnly 'vms/race/disk.qcow2', 'vms/race/console.log'
        }
    }

    It '<Command> waits briefly, then fails with VmBusy and changes nothing' -ForEach @(
        @{ Command = 'Start-MyVm'; Vm = 'held'; Script = { Start-MyVm -Name held -PassThru } }
        @{ Command = 'Remove-MyVm -Force'; Vm = 'held'; Script = { Remove-MyVm -Name held -Force } }
    ) {
        $lock = Lock-Vm -Name $Vm
        try {
            $before = Get-HomeSnapshot
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $r = Invoke-MyHvCapture $Script
            $clock.Stop()
            $after = Get-HomeSnapshot
        }
        finally { $lock.Dispose() }

        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VmBusy,*'
        $r.Errors[0].TargetObject | Should -Be $Vm
        $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 1     # it waited for the holder first
        $after | Should -Be $before
        (Get-MyVm -Name race -ErrorAction Stop).Pid | Should -Be $racePid
        (Get-MyVm -Name held -ErrorAction Stop).Status | Should -Be 'Stopped'
        @(Get-MyHvProcess -IncludeZombie -Marker "$vmHome/run/held/") | Should -BeNullOrEmpty
    }

    It 'Stop-MyVm -Force from another process gets VmBusy too' {
        $lock = Lock-Vm -Name race
        try {
            $before = Get-HomeSnapshot
            $outcome = @(Invoke-Together -Tag busy -Action 'Stop-MyVm -Name race -Force -PassThru -ErrorAction Stop')
            $after = Get-HomeSnapshot
        }
        finally { $lock.Dispose() }

        $outcome.Count | Should -Be 1
        $outcome[0].Outcome | Should -Be 'error'
        $outcome[0].ErrorId | Should -BeLike 'VmBusy,*'
        $after | Should -Be $before
        (Get-MyVm -Name race -ErrorAction Stop).Pid | Should -Be $racePid
    }

    It 'a reader is not blocked: Get-MyVm shows the held VM as recorded, noting it is busy' {
        $lock = Lock-Vm -Name held
        try { $r = Invoke-MyHvCapture { Get-MyVm -Name held } }
        finally { $lock.Dispose() }

        $r.Errors | Should -BeNullOrEmpty
        $r.Output.Count | Should -Be 1
        $r.Output[0].Status | Should -Be 'Stopped'
        $r.Output[0].Problems -join ' ' | Should -BeLike '*busy*'
    }

    It 'once the holder lets go, the same commands work' {
        $started = Start-MyVm -Name held -PassThru -ErrorAction Stop
        $stopped = Stop-MyVm -Name race -Force -PassThru -ErrorAction Stop

        $started.Status | Should -Be 'Running'
        $stopped.Status | Should -Be 'Stopped'
        Get-MyHvProcessStartTicks -ProcessId $racePid | Should -BeNullOrEmpty
    }
}
