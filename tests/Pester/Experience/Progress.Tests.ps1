# Issue 6, point 4: progress and narration. Start-MyVm and Stop-MyVm write a progress record per step
# and while they wait (the guest's readiness with -Wait, the guest's power-off within the graceful
# timeout); several VMs in one call get an overall bar that is the parent (ParentActivityId) of each
# VM's bar, written before the first VM's bar; -Verbose narrates the steps and, after a failure, the
# undo of each artifact.
# How progress is captured: the commands run in a fresh runspace of this process
# ([powershell]::Create(), see Invoke-MyHvCaptured), whose Streams.Progress receives exactly the
# records a console host would draw; nothing is simulated. The -AsJob path is covered in Jobs.Tests.ps1.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:BootTimeout = 180   # TCG boots take ~3 s alone and several times that when other suites boot VMs too
    foreach ($name in 'ga', 'gb', 'gsolo', 'gfail') { $null = New-MyVm -Name $name -ErrorAction Stop }

    function Get-Bar {
        # The records of one VM's bar (by activity), in order.
        param($Records, [string] $Activity)
        @($Records | Where-Object Activity -EQ $Activity)
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Start-MyVm progress, several VMs' {
    BeforeAll {
        $script:start = Invoke-MyHvCaptured -Script 'param($Timeout) Start-MyVm -Name ga, gb -Wait -TimeoutSeconds $Timeout -PassThru' -Arguments @{ Timeout = $BootTimeout }
        $script:records = $start.Progress
    }

    It 'started both VMs without error' {
        $start.Error | Should -BeNullOrEmpty
        @($start.Output | ForEach-Object { "$($_.Name):$($_.Status)" }) | Should -Be @('ga:Running', 'gb:Running')
    }

    It 'writes an overall bar first, with no parent, counting the VMs' {
        $records.Count | Should -BeGreaterThan 10
        $first = $records[0]
        $first.ParentActivityId | Should -Be -1
        $first.Activity | Should -Be 'Start-MyVm: 2 VMs'
        $first.StatusDescription | Should -Be "VM 'ga' (1 of 2)"
        $overall = @($records | Where-Object ActivityId -EQ $first.ActivityId)
        $overall.StatusDescription | Should -Contain "VM 'gb' (2 of 2)"
        $overall[-1].RecordType | Should -Be 'Completed'
        $overall[-1].PercentComplete | Should -Be 100
        $overall | ForEach-Object { $_.ParentActivityId | Should -Be -1 }
    }

    It 'gives each VM its own bar under the overall bar' {
        $overallId = $records[0].ActivityId
        $ga = Get-Bar $records "Starting VM 'ga'"
        $gb = Get-Bar $records "Starting VM 'gb'"
        $ga.Count | Should -BeGreaterThan 5
        $gb.Count | Should -BeGreaterThan 5
        ($ga.ActivityId | Select-Object -Unique) | Should -HaveCount 1
        ($gb.ActivityId | Select-Object -Unique) | Should -HaveCount 1
        $ga[0].ActivityId | Should -Not -Be $gb[0].ActivityId
        $ga[0].ActivityId | Should -Not -Be $overallId
        @($ga + $gb) | ForEach-Object { $_.ParentActivityId | Should -Be $overallId }
        $ga[-1].RecordType | Should -Be 'Completed'
        $gb[-1].RecordType | Should -Be 'Completed'
    }

    It 'reports every start step in order, then the wait for the guest' {
        $statuses = @((Get-Bar $records "Starting VM 'ga'").StatusDescription)
        $steps = 'Checking prerequisites', 'Step storage', 'Step runtime-dir', 'Step guest-channel', 'Step hypervisor-launch', 'Step api-ready', 'Step commit'
        $positions = foreach ($step in $steps) { [array]::IndexOf($statuses, $step) }
        $positions | Should -Not -Contain -1 -Because "statuses were: $($statuses -join ' | ')"
        ($positions | Sort-Object) -join ',' | Should -Be ($positions -join ',')
        $waiting = @($statuses | Where-Object { $_ -match '^Waiting for the guest \(\d+ s\)$' })
        $waiting.Count | Should -BeGreaterThan 0 -Because '-Wait shows that it is waiting'
        [array]::IndexOf($statuses, $waiting[0]) | Should -BeGreaterThan $positions[-1]
    }

    It 'never lets the percentage of a VM''s bar go backwards' {
        foreach ($vm in 'ga', 'gb') {
            $percents = @((Get-Bar $records "Starting VM '$vm'") | Where-Object RecordType -EQ 'Processing' | ForEach-Object PercentComplete)
            for ($i = 1; $i -lt $percents.Count; $i++) { $percents[$i] | Should -BeGreaterOrEqual $percents[$i - 1] }
        }
    }

    It 'precedes the first VM bar by the overall bar (no child without its parent)' {
        $firstChild = [array]::IndexOf($records, ($records | Where-Object ParentActivityId -NE -1 | Select-Object -First 1))
        $firstParent = [array]::IndexOf($records, ($records | Where-Object { $_.ActivityId -eq $records[0].ActivityId } | Select-Object -First 1))
        $firstParent | Should -BeLessThan $firstChild
    }
}

Describe 'Stop-MyVm progress, several VMs' {
    BeforeAll {
        $script:stop = Invoke-MyHvCaptured -Script 'Stop-MyVm -Name ga, gb -TimeoutSeconds 60 -PassThru -Verbose'
    }

    It 'stopped both guests gracefully' {
        $stop.Error | Should -BeNullOrEmpty
        @($stop.Output | ForEach-Object { "$($_.Name):$($_.Status):$($_.StopMethod)" }) | Should -Be @('ga:Stopped:GuestPowerOff', 'gb:Stopped:GuestPowerOff')
    }

    It 'shows the power button, the wait for the guest, and the cleanup, under an overall bar' {
        $records = $stop.Progress
        $records[0].Activity | Should -Be 'Stop-MyVm: 2 VMs'
        $overallId = $records[0].ActivityId
        foreach ($vm in 'ga', 'gb') {
            $bar = Get-Bar $records "Stopping VM '$vm'"
            $statuses = @($bar.StatusDescription)
            $statuses | Should -Contain 'Pressing the ACPI power button'
            @($statuses | Where-Object { $_ -match '^Waiting for the guest to power off \(\d+/60 s\)$' }).Count | Should -BeGreaterThan 0
            $statuses | Should -Contain 'Removing runtime artifacts'
            $bar | ForEach-Object { $_.ParentActivityId | Should -Be $overallId }
            $bar[-1].RecordType | Should -Be 'Completed'
        }
    }

    It 'narrates the stop ladder with -Verbose' {
        $verbose = $stop.Verbose -join "`n"
        $verbose | Should -Match "VM 'ga': pressing the ACPI power button; waiting up to 60 s"
        $verbose | Should -Match "VM 'gb' stopped \(GuestPowerOff\)"
    }
}

Describe 'One VM' {
    It 'has its own bar and no overall bar' {
        $run = Invoke-MyHvCaptured -Script 'Start-MyVm -Name gsolo; Stop-MyVm -Name gsolo -Force'
        $run.Error | Should -BeNullOrEmpty
        $run.Progress.Count | Should -BeGreaterThan 5
        $run.Progress | ForEach-Object { $_.ParentActivityId | Should -Be -1 }
        $run.Progress.Activity | Should -Not -Contain 'Start-MyVm: 1 VMs'
        @($run.Progress.Activity | Select-Object -Unique) | Should -Be @("Starting VM 'gsolo'", "Stopping VM 'gsolo'")
        $run.Progress.StatusDescription | Should -Contain 'Asking the hypervisor to quit' -Because '-Force skips the guest'
        $run.Progress.StatusDescription | Should -Not -Contain 'Pressing the ACPI power button'
    }
}

Describe '-Verbose narration of a start and its undo' {
    It 'narrates each step, what it recorded, the failure and the undo of each artifact' {
        $env:MYHV_FAILPOINTS = 'start.guest-channel=error'
        try { $run = Invoke-MyHvCaptured -Script 'Start-MyVm -Name gfail -Verbose' }
        finally { $env:MYHV_FAILPOINTS = $null }
        $run.Error.Count | Should -Be 1
        $run.Error[0].FullyQualifiedErrorId | Should -BeLike 'VmStartFailed,*'
        $verbose = $run.Verbose -join "`n"
        foreach ($step in 'storage', 'runtime-dir', 'guest-channel') {
            $run.Verbose | Should -Contain "Step $step" -Because "the step $step is narrated"
        }
        $verbose | Should -Match "recorded disk overlay .*/vms/gfail/disk\.qcow2"
        $verbose | Should -Match "VM 'gfail': step 'guest-channel' failed .*rolling back \d+ artifact"
        $verbose | Should -Match "Undo directory .*/run/gfail: removed" -Because 'the runtime folder is undone'
        $verbose | Should -Match "Undo disk overlay .*/vms/gfail/disk\.qcow2: removed" -Because 'the new overlay disk is undone'
        $progress = @($run.Progress.StatusDescription)
        $progress | Should -Contain 'Rolling back'
        Test-Path -LiteralPath (Join-Path $vmHome 'run/gfail') | Should -BeFalse
        (Get-MyVm -Name 'gfail').Status | Should -Be 'Failed'
    }

    It 'says nothing on the verbose stream without -Verbose' {
        $run = Invoke-MyHvCaptured -Script 'Get-MyVm -Name gfail | Out-Null; Repair-MyVm -Name gfail | Out-Null'
        $run.Verbose | Should -BeNullOrEmpty
    }
}

Describe 'ProgressReporter' {
    It 'puts three VMs under one overall bar that advances per VM' {
        $records = [System.Collections.Generic.List[System.Management.Automation.ProgressRecord]]::new()
        $reporter = [MyHypervisor.PowerShell.Infrastructure.ProgressReporter]::new([Action[System.Management.Automation.ProgressRecord]] { param($r) $records.Add($r) }.GetNewClosure(), 'Start-MyVm: 3 VMs', 3)
        foreach ($vm in 'x1', 'x2', 'x3') {
            $reporter.VmBegin($vm)
            $reporter.Report([MyHypervisor.Core.Lifecycle.ProgressUpdate]::new($vm, "Starting VM '$vm'", 'Step storage', 10))
            $reporter.VmDone($vm)
        }
        $overall = @($records | Where-Object ActivityId -EQ ([MyHypervisor.PowerShell.Infrastructure.ProgressReporter]::OverallId))
        $children = @($records | Where-Object ActivityId -NE ([MyHypervisor.PowerShell.Infrastructure.ProgressReporter]::OverallId))
        $records[0].ActivityId | Should -Be ([MyHypervisor.PowerShell.Infrastructure.ProgressReporter]::OverallId)
        ($children.ActivityId | Select-Object -Unique).Count | Should -Be 3
        $children | ForEach-Object { $_.ParentActivityId | Should -Be ([MyHypervisor.PowerShell.Infrastructure.ProgressReporter]::OverallId) }
        $overall | ForEach-Object { $_.ParentActivityId | Should -Be -1 }
        @($overall | Where-Object StatusDescription -Like '* of 3 VMs done' | ForEach-Object PercentComplete) | Should -Be @(33, 66, 100)
        $overall[-1].RecordType | Should -Be 'Completed'
        @($children | Where-Object RecordType -EQ 'Completed').Count | Should -Be 3
    }
}
