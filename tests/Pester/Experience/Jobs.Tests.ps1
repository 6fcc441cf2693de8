# Issue 6, point 8: -AsJob on Start-MyVm and Stop-MyVm returns a standard PowerShell job for several
# VMs at once: Get-Job lists it, Wait-Job and Receive-Job work, -PassThru objects come out of
# Receive-Job, a failing VM's error is in the job's Error stream (and Receive-Job writes it) while
# the other VMs are handled, State is Completed or Failed accordingly, progress (with the overall
# bar) and narration are in the job's streams, and Remove-Job cleans up.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:BootTimeout = 180   # TCG boots take ~3 s alone and several times that when other suites boot VMs too
    foreach ($name in 'ja', 'jb', 'jc') { $null = New-MyVm -Name $name -ErrorAction Stop }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Start-MyVm -AsJob, two VMs' {
    BeforeAll {
        $script:job = Start-MyVm -Name 'ja', 'jb' -Wait -TimeoutSeconds $BootTimeout -PassThru -AsJob
        $script:stateAtReturn = "$($job.State)"
    }

    It 'returns a job at once, which Get-Job lists' {
        $job | Should -BeOfType ([System.Management.Automation.Job])
        @($job).Count | Should -Be 1
        $stateAtReturn | Should -Be 'Running' -Because 'the command returned while the VMs were still starting'
        $job.PSJobTypeName | Should -Be 'MyVmJob'
        $job.Name | Should -Be 'Start-MyVm ja, jb'
        $job.Command | Should -Be 'Start-MyVm -Name ja, jb'
        (Get-Job -Id $job.Id).InstanceId | Should -Be $job.InstanceId
        (Get-Job -Name 'Start-MyVm ja, jb').Id | Should -Be $job.Id
    }

    It 'Wait-Job waits until it is Completed' {
        $waited = Wait-Job -Job $job -Timeout ($BootTimeout * 2)
        $waited.Id | Should -Be $job.Id -Because 'Wait-Job returns the job once it finished'
        $job.State | Should -Be 'Completed'
        $job.PSEndTime | Should -Not -BeNullOrEmpty
    }

    It 'kept the start progress (each step, the wait, an overall bar) and the narration in its streams' {
        $progress = @($job.Progress)
        $progress[0].Activity | Should -Be 'Start-MyVm: 2 VMs'
        $overallId = $progress[0].ActivityId
        foreach ($vm in 'ja', 'jb') {
            $bar = @($progress | Where-Object Activity -EQ "Starting VM '$vm'")
            $bar | ForEach-Object { $_.ParentActivityId | Should -Be $overallId }
            $bar.StatusDescription | Should -Contain 'Step hypervisor-launch'
            @($bar.StatusDescription -match '^Waiting for the guest').Count | Should -BeGreaterThan 0
        }
        ($job.Verbose.Message -join "`n") | Should -Match "VM 'jb': the guest reported ready"
    }

    It 'Receive-Job returns the -PassThru VMs, running; no errors' {
        $err = $null
        $vms = @(Receive-Job -Job $job -ErrorVariable err)
        $err | Should -BeNullOrEmpty
        @($vms | ForEach-Object { "$($_.Name):$($_.Status)" }) | Should -Be @('ja:Running', 'jb:Running')
        $vms[0].Pid | Should -Be (Get-MyVm -Name 'ja').Pid
        $job.HasMoreData | Should -BeFalse -Because 'Receive-Job took everything'
    }
}

Describe 'Stop-MyVm -AsJob' {
    It 'keeps progress (overall bar over one bar per VM) and narration in the job''s streams' {
        $stop = Stop-MyVm -Name 'ja', 'jb' -TimeoutSeconds 60 -PassThru -AsJob
        $null = Wait-Job -Job $stop -Timeout 180
        $stop.State | Should -Be 'Completed'
        $progress = @($stop.Progress)
        $progress[0].Activity | Should -Be 'Stop-MyVm: 2 VMs'
        $progress[0].ParentActivityId | Should -Be -1
        $overallId = $progress[0].ActivityId
        foreach ($vm in 'ja', 'jb') {
            $bar = @($progress | Where-Object Activity -EQ "Stopping VM '$vm'")
            $bar.Count | Should -BeGreaterThan 2
            $bar | ForEach-Object { $_.ParentActivityId | Should -Be $overallId }
            $bar.StatusDescription | Should -Contain 'Pressing the ACPI power button'
        }
        (@($progress | Where-Object ActivityId -EQ $overallId))[-1].RecordType | Should -Be 'Completed'
        ($stop.Verbose.Message -join "`n") | Should -Match "VM 'jb' stopped \(GuestPowerOff\)"
        @(Receive-Job -Job $stop | ForEach-Object { "$($_.Name):$($_.Status)" }) | Should -Be @('ja:Stopped', 'jb:Stopped')
        Remove-Job -Job $stop
        Get-Job -Id $stop.Id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'A job where one VM of three fails' {
    BeforeAll {
        $null = Start-MyVm -Name 'jb' -ErrorAction Stop          # already running when the job comes
        $script:jbPid = (Get-MyVm -Name 'jb').Pid
        $script:job2 = Start-MyVm -Name 'ja', 'jb', 'jc' -PassThru -AsJob
        $null = Wait-Job -Job $job2 -Timeout ($BootTimeout * 2)
    }

    It 'is Failed, with the failing VM''s error in its Error stream' {
        $job2.State | Should -Be 'Failed'
        $job2.Error.Count | Should -Be 1
        $job2.Error[0].FullyQualifiedErrorId | Should -Be 'VmAlreadyRunning,MyHypervisor.PowerShell.Commands.StartMyVmCommand' -Because 'the same id as in the foreground'
        $job2.Error[0].TargetObject | Should -Be 'jb'
        $job2.Error[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'handled the other two VMs: Receive-Job returns them and writes the error' {
        $err = $null
        $vms = @(Receive-Job -Job $job2 -ErrorVariable err -ErrorAction SilentlyContinue)
        @($vms | ForEach-Object { "$($_.Name):$($_.Status)" }) | Should -Be @('ja:Running', 'jc:Running')
        @($err | Where-Object { $_.FullyQualifiedErrorId -like 'VmAlreadyRunning,*' }).Count | Should -Be 1
        (Get-MyVm -Name 'jb').Pid | Should -Be $jbPid -Because 'the running VM was left alone'
    }

    It 'a Stop job for all three Completes, and Remove-Job removes both jobs' {
        $stop = Stop-MyVm -Name 'j*' -Force -AsJob
        $null = Wait-Job -Job $stop -Timeout 120
        $stop.State | Should -Be 'Completed'
        @(Receive-Job -Job $stop) | Should -BeNullOrEmpty -Because 'without -PassThru a job returns nothing'
        (Get-MyVm -Name 'ja', 'jb', 'jc').Status | Should -Be @('Stopped', 'Stopped', 'Stopped')
        Remove-Job -Job $stop, $job2
        @(Get-Job | Where-Object PSJobTypeName -EQ 'MyVmJob') | Where-Object { $_.Id -in $stop.Id, $job2.Id } | Should -BeNullOrEmpty
    }
}
