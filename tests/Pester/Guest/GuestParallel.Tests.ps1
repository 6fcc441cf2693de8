<#
Invoke-MyVmCommand across VMs: three VMs from the pipeline, one of them stopped (one error, two
results, run in parallel), -ThrottleLimit, and GuestAgentUnavailable, at once, for a running VM
whose image has no agent (an agent-less copy of the image, made in this suite's test folder).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $image = Get-MyHvGuestImage
    $script:noAgentImage = New-MyHvAgentlessImage -Image $image -Parent (New-MyHvTestDir -Prefix 'mhI')
    foreach ($name in 'gpa', 'gpb', 'gpc') { $null = New-MyVm -Name $name -Image tiny -Network None }
    $null = New-MyVm -Name 'gpnone' -Image $noAgentImage -Network None
    # One start call for the three that run: the boots overlap (fewer seconds on a shared machine).
    Start-MyVm -Name 'gpa', 'gpb', 'gpnone' -Wait -TimeoutSeconds 240
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'Invoke-MyVmCommand on several VMs' {
    It 'runs on three VMs from the pipeline, one stopped: one VmNotRunning error, two results, in parallel' {
        $errs = $null
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $results = @(Get-MyVm -Name 'gpa', 'gpb', 'gpc' |
            Invoke-MyVmCommand -Command 'sleep 2; hostname' -ErrorVariable errs -ErrorAction SilentlyContinue)
        $elapsed = $watch.Elapsed.TotalSeconds
        $results.Count | Should -Be 2
        ($results.VmName | Sort-Object) | Should -Be @('gpa', 'gpb')
        foreach ($r in $results) { $r.StdOut | Should -Be "$($r.VmName)`n" }
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
        $errs[0].TargetObject | Should -Be 'gpc'
        # Both guests sleep 2 s at the same time: well under the 4 s that one after the other takes.
        $elapsed | Should -BeLessThan 3.9 -Because "in parallel (took $elapsed s)"
    }

    It '-ThrottleLimit 1 runs them one after the other' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $results = @(Invoke-MyVmCommand -Name 'gp[ab]' -Command 'sleep 2; echo done' -ThrottleLimit 1)
        $results.Count | Should -Be 2
        $watch.Elapsed.TotalSeconds | Should -BeGreaterThan 4
    }

    It 'a wildcard reaches every matching VM, each failure its own error' {
        $errs = $null
        $results = @(Invoke-MyVmCommand -Name 'gp*' -FilePath /bin/true -ErrorVariable errs -ErrorAction SilentlyContinue)
        ($results.VmName | Sort-Object) | Should -Be @('gpa', 'gpb')
        ($errs | ForEach-Object { "$($_.TargetObject)=$(($_.FullyQualifiedErrorId -split ',')[0])" } | Sort-Object) |
            Should -Be @('gpc=VmNotRunning', 'gpnone=GuestAgentUnavailable')
    }
}

Describe 'GuestAgentUnavailable' {
    It 'comes at once, with the reason, for a running VM whose image has no agent' {
        (Get-MyVm -Name 'gpnone').Status | Should -Be 'Running'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $errs = $null
        $null = Invoke-MyVmCommand -Name 'gpnone' -FilePath /bin/true -TimeoutSeconds 60 -ErrorVariable errs -ErrorAction SilentlyContinue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 2 -Because 'the image says it has no agent: nothing to wait for'
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'GuestAgentUnavailable,MyHypervisor.PowerShell.Commands.InvokeMyVmCommandCommand'
        "$($errs[0])" | Should -Match "image 'noagent' has no guest agent"
        { Copy-MyVmFile -Name 'gpnone' -Path $PSCommandPath -Destination /tmp/x -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestAgentUnavailable,MyHypervisor.PowerShell.Commands.CopyMyVmFileCommand'
    }

    It 'Get-MyVmGuest reports NoAgent for it as a status, and the others answer' {
        $facts = @(Get-MyVmGuest -Name 'gpa', 'gpnone' | Sort-Object VmName)
        $facts.AgentStatus | Should -Be @('Answering', 'NoAgent')
        $facts[1].Reason | Should -Match 'has no guest agent'
        (Get-MyVm -Name 'gpnone').IPAddress | Should -BeNullOrEmpty
    }

    It 'a stop of the agent-less VM never tries the agent rung' {
        $narration = @(Stop-MyVm -Name 'gpnone' -Verbose 4>&1 | ForEach-Object { "$_" })
        ($narration -join "`n") | Should -Not -Match 'guest-shutdown'
        (Get-MyVm -Name 'gpnone').StopMethod | Should -Be 'GuestPowerOff'
    }
}
