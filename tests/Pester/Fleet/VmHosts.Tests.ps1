# Runner: host-exclusive
<#
Many hosts over PowerShell SSH remoting, for real: three network namespaces made here, on a bridge
in a namespace of their own, each running its own sshd (Debian openssh-server, config and host key
written here, `Subsystem powershell` = this pwsh) with its own MYHV_HOME; the root namespace
reaches them over one veth pair on a private /24 (FleetLab.psm1). The module on every host is this
worktree's out/MyHypervisor. VMs are tiny, without network, started without -Wait.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'FleetLab.psm1') -Force
    $script:module = Import-MyHvTestModule
    $script:testHome = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'
    $script:root = New-MyHvTestDir -Prefix 'mhF'
    $script:lab = New-FleetLab -Root $script:root -Count 3 -ModuleRoot (Join-Path (Get-MyHvRepoRoot) 'out')
    $script:capacity = @{ h1 = 700; h2 = 600; h3 = 500 }

    function Connect-LabHost([string] $Name, [int] $Capacity) {
        $h = $script:lab.Hosts | Where-Object Name -EQ $Name
        Connect-MyVmHost -HostName $h.Address -UserName root -KeyFilePath $script:lab.KeyFile -Name $Name -MemoryCapacityMiB $Capacity `
            -SshOption @{ UserKnownHostsFile = $script:lab.KnownHosts; StrictHostKeyChecking = 'yes'; ConnectTimeout = 20 } -ErrorAction Stop
    }
    function Get-HostVm([string] $HostName, [string] $Name) { Get-MyVm -Name $Name -VmHost $HostName -ErrorAction Stop }
}

AfterAll {
    $problems = [Collections.Generic.List[string]]::new()
    try { Get-MyVm -VmHost * -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue } catch { $problems.Add("remove: $_") }
    Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue
    Disconnect-MyVmHost -Name 'h*' -Confirm:$false -ErrorAction SilentlyContinue
    if ($script:lab) {
        Remove-FleetLab -Lab $script:lab
        foreach ($h in $script:lab.Hosts) { foreach ($l in @(Get-MyHvLeftover -Home $h.Home)) { $problems.Add("$($h.Name): $l") } }
        $namespaces = @(Get-ChildItem -LiteralPath /run/netns -ErrorAction Ignore | Where-Object Name -In $script:lab.Namespaces)
        if ($namespaces) { $problems.Add("namespaces left: $($namespaces.Name -join ', ')") }
        if (Test-Path "/sys/class/net/$($script:lab.RootVeth)") { $problems.Add("veth left: $($script:lab.RootVeth)") }
    }
    Assert-MyHvNoLeftovers -Home $script:testHome
    if ($problems.Count) { throw ($problems -join "`n") }
}

Describe 'VM hosts over PowerShell SSH remoting' {
    It 'refuses a host whose module version differs, naming both versions' {
        # h3's subsystem reads its module folder at each session start: point it at a copy with another version.
        $old = Join-Path $script:root 'oldmod'
        Copy-Item -Recurse (Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor') (Join-Path $old 'MyHypervisor')
        $manifest = Join-Path $old 'MyHypervisor/MyHypervisor.psd1'
        (Get-Content -Raw $manifest) -replace "ModuleVersion\s*=\s*'[^']+'", "ModuleVersion = '0.0.7'" | Set-Content -NoNewline $manifest
        $pathFile = Join-Path ($script:lab.Hosts | Where-Object Name -EQ h3).Dir 'module-path'
        $good = Get-Content -Raw $pathFile
        Set-Content -LiteralPath $pathFile -Value $old -NoNewline
        try {
            $err = $null
            try { Connect-LabHost h3 500 } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'PrerequisiteMissing*'
            "$err" | Should -Match '0\.0\.7'
            "$err" | Should -Match ([regex]::Escape($script:module.Version.ToString()))
            @(Get-MyVmHost -Name 'h*').Count | Should -Be 0
        }
        finally { Set-Content -LiteralPath $pathFile -Value $good -NoNewline }
    }

    It 'connects three hosts, each with its own capacity; Get-MyVmHost shows them in its table' {
        foreach ($name in 'h1', 'h2', 'h3') { (Connect-LabHost $name $script:capacity[$name]).Reachable | Should -BeTrue }
        # This machine takes part in '*' too; with little capacity it is never chosen here.
        Connect-MyVmHost -HostName localhost -MemoryCapacityMiB 100 | Out-Null
        $hosts = @(Get-MyVmHost)
        $hosts.Name | Should -Be @('localhost', 'h1', 'h2', 'h3')
        foreach ($h in $hosts) {
            $h.Reachable | Should -BeTrue
            $h.ModuleVersion | Should -Be $script:module.Version.ToString()
            $h.Images | Should -Contain 'tiny'
        }
        ($hosts | Where-Object Name -EQ h2).MemoryCapacityMiB | Should -Be 600
        ($hosts | Where-Object Name -EQ h2).UnallocatedMiB | Should -Be 600
        $table = $hosts | Out-String -Width 200
        $table | Should -Match 'Name\s+HostName\s+Reachable\s+CPUs\s+Unallocated'
        $table | Should -Match "h3\s+$([regex]::Escape(($script:lab.Hosts | Where-Object Name -EQ h3).Address))\s+Yes"
    }

    It 'New-MyVm -VmHost * places each VM on the host with the most unallocated memory, and refuses one that fits nowhere' {
        $expected = @{ a = 'h1'; b = 'h2'; c = 'h3' }
        foreach ($name in 'a', 'b', 'c') {
            $out = @(New-MyVm -Name $name -VmHost * -MemoryMiB 400 -Network None -Verbose 4>&1)
            $vm = @($out | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] })
            $said = ($out | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n"
            $vm.Count | Should -Be 1
            $vm[0].VmHost | Should -Be $expected[$name]
            $said | Should -Match "Placing VM '$name' on host '$($expected[$name])': it has the most unallocated memory"
            # The placed object pipes to its own host: the start there makes its memory allocated.
            $started = @($vm | Start-MyVm -PassThru -ErrorAction Stop)
            $started.VmHost | Should -Be $expected[$name]
            "$($started.Status)" | Should -BeIn @('Starting', 'Running')
        }
        # 700-400, 600-400, 500-400 and localhost's 100: no host has 400 MiB left, as long as the three still run.
        $held = @(Get-MyVm -VmHost h* | ForEach-Object { "$($_.VmHost)/$($_.Name)=$($_.Status) $($_.StatusReason)" })
        @($held | Where-Object { $_ -notmatch '=(Starting|Running) ' }) | Should -BeNullOrEmpty -Because "the placed VMs hold their memory: $($held -join '; ')"
        $errors = $null
        $none = @(New-MyVm -Name d -VmHost * -MemoryMiB 400 -Network None -ErrorVariable errors -ErrorAction SilentlyContinue)
        $none.Count | Should -Be 0
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec*'
        "$($errors[0])" | Should -Match 'no host has room for 400 MiB'
        "$($errors[0])" | Should -Match 'h1 300 of 700 MiB unallocated'
        @(Get-MyVm -VmHost * -ErrorAction SilentlyContinue | Where-Object Name -EQ d).Count | Should -Be 0
        (Get-MyVmHost -Name h3).UnallocatedMiB | Should -Be 100
    }

    It 'Get-MyVmStats -VmHost * returns the running VMs of all three hosts, grouped by host in the view' {
        $stats = @(Get-MyVmStats -VmHost * -ErrorAction Stop)
        ($stats | ForEach-Object { "$($_.VmHost)/$($_.Name)" } | Sort-Object) | Should -Be @('h1/a', 'h2/b', 'h3/c')
        foreach ($s in $stats) { $s.MemoryRssBytes | Should -BeGreaterThan 0 }
        $view = $stats | Out-String -Width 200
        foreach ($h in 'h1', 'h2', 'h3') { $view | Should -Match "VmHost: $h" }
        $view | Should -Match 'Name\s+Status\s+CPU \(s\)\s+Memory'
    }

    It 'a VM name used on two hosts is stopped only where the piped object came from, never a local VM of that name' {
        New-MyVm -Name a -MemoryMiB 128 -Network None | Start-MyVm -ErrorAction Stop
        $fromH1 = Get-HostVm h1 a
        $fromH1.pstypenames | Should -Contain 'Deserialized.MyHypervisor.Core.Vms.VmInfo'
        $fromH1 | Stop-MyVm -Force -ErrorAction Stop
        "$((Get-HostVm h1 a).Status)" | Should -Be 'Stopped'
        "$((Get-MyVm -Name a).Status)" | Should -BeIn @('Starting', 'Running')
        # And the other way: the local object stops the local VM only.
        Get-MyVm -Name a | Stop-MyVm -Force -ErrorAction Stop
        "$((Get-MyVm -Name a).Status)" | Should -Be 'Stopped'
        "$((Get-HostVm h2 b).Status)" | Should -BeIn @('Starting', 'Running')
        Remove-MyVm -Name a -Force -Confirm:$false
    }

    It 'deserialized VM objects render with the same table and list as live ones' {
        $remote = Get-HostVm h2 b
        $table = $remote | Out-String -Width 200
        $table | Should -Match 'VmHost: h2'
        $table | Should -Match 'Name\s+Status\s+CPUs\s+Memory\s+Hypervisor\s+Uptime\s+Pid'
        $table | Should -Not -Match 'RunspaceId|PSComputerName'
        ($remote | Format-List | Out-String) | Should -Match 'Path\s+: .*/vms/b'
        # An object deserialized by other means (Invoke-Command, Import-Clixml) gets the plain views.
        New-MyVm -Name plain -Network None | Out-Null
        $plain = [Management.Automation.PSSerializer]::Deserialize([Management.Automation.PSSerializer]::Serialize((Get-MyVm -Name plain)))
        $plain.pstypenames[0] | Should -Be 'Deserialized.MyHypervisor.Core.Vms.VmInfo'
        ($plain | Out-String -Width 200) | Should -Match 'Name\s+Status\s+CPUs\s+Memory\s+Hypervisor'
        ($plain | Format-List | Out-String) | Should -Match 'StopMethod\s+:'
        Remove-MyVm -Name plain -Force -Confirm:$false
    }

    It 'Get-MyVm -VmHost * | Start-MyVm starts each VM on its own host' {
        Get-MyVm -VmHost * | Stop-MyVm -Force -ErrorAction Stop
        $before = @(Get-MyVm -VmHost * -ErrorAction Stop)
        ($before | ForEach-Object { "$($_.VmHost)/$($_.Name)/$($_.Status)" } | Sort-Object) | Should -Be @('h1/a/Stopped', 'h2/b/Stopped', 'h3/c/Stopped')
        $errors = $null
        Get-MyVm -VmHost * | Start-MyVm -ErrorVariable errors
        $errors.Count | Should -Be 0
        foreach ($pair in @(@('h1', 'a'), @('h2', 'b'), @('h3', 'c'))) {
            $vm = Get-HostVm $pair[0] $pair[1]
            "$($vm.Status)" | Should -BeIn @('Starting', 'Running')
            # Its QEMU runs in that host's network namespace, with that host's state home on its command line.
            $h = $script:lab.Hosts | Where-Object Name -EQ $pair[0]
            $inNs = @(& $script:lab.Ip netns pids $h.Namespace)
            "$($vm.Pid)" | Should -BeIn $inNs
            ([IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline")) | Should -Match ([regex]::Escape($h.Home))
        }
        @(Get-MyVm).Count | Should -Be 0
    }

    It '-AsJob with -VmHost is one job of this session: confirmed here, run in the background, each host''s results tagged; the hosts answer other commands meanwhile' {
        Get-MyVm -VmHost h1, h2 | Stop-MyVm -Force -ErrorAction Stop
        # -WhatIf is answered here and makes no job.
        @(Get-MyVm -VmHost h1, h2 | Start-MyVm -AsJob -WhatIf).Count | Should -Be 0
        "$((Get-HostVm h1 a).Status)" | Should -Be 'Stopped'
        # Booting under TCG takes seconds: the job's commands hold each host's session meanwhile.
        $job = Get-MyVm -VmHost h1, h2 | Start-MyVm -Wait -TimeoutSeconds 180 -AsJob -PassThru
        $job.PSJobTypeName | Should -Be 'MyVmHostJob'
        $job.Location | Should -Be 'h1, h2'
        (Get-Job -Id $job.Id).Id | Should -Be $job.Id
        # The same hosts in the foreground while the job's commands run there: each session takes one
        # command at a time, so this one waits its turn instead of failing as busy.
        @(Get-MyVm -VmHost h1, h2 -ErrorAction Stop).Count | Should -Be 2
        $null = Wait-Job -Job $job -Timeout 240
        $job.State | Should -Be 'Completed' -Because "the job's errors: $(@($job.Error) -join '; ')"
        $out = @(Receive-Job -Job $job)
        ($out | ForEach-Object { "$($_.VmHost)/$($_.Name)/$($_.Status)" } | Sort-Object) | Should -Be @('h1/a/Running', 'h2/b/Running')
        Remove-Job -Job $job
        # A host that is not connected is the job's error (the job fails), not the console's.
        $bad = Start-MyVm -Name a -VmHost nohost -AsJob
        $null = Wait-Job -Job $bad -Timeout 60
        $bad.State | Should -Be 'Failed'
        $bad.Error[0].FullyQualifiedErrorId | Should -BeLike 'VmHostUnreachable*'
        Remove-Job -Job $bad
        @(Get-MyVm).Count | Should -Be 0
    }

    It 'a host whose sshd dies gives one VmHostUnreachable and the others results; when it is back the next command reconnects' {
        Stop-FleetSshd -Lab $script:lab -Name h3
        $errors = $null
        $vms = @(Get-MyVm -VmHost * -ErrorVariable errors -ErrorAction SilentlyContinue)
        ($vms | ForEach-Object { "$($_.VmHost)/$($_.Name)" } | Sort-Object) | Should -Be @('h1/a', 'h2/b')
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'VmHostUnreachable*'
        "$($errors[0])" | Should -Match "VM host 'h3'"
        # ssh's own reason: refused while reconnecting, or the transport's word if the drop is noticed mid-command.
        "$($errors[0])" | Should -Match 'ssh: connect to host .* Connection refused|session dropped during'
        $down = Get-MyVmHost -Name h3
        $down.Reachable | Should -BeFalse
        $down.Reason | Should -Not -BeNullOrEmpty

        Start-FleetSshd -Lab $script:lab -Name h3
        $errors = $null
        $vms = @(Get-MyVm -VmHost * -ErrorVariable errors)
        $errors.Count | Should -Be 0
        ($vms | ForEach-Object { "$($_.VmHost)/$($_.Name)" } | Sort-Object) | Should -Be @('h1/a', 'h2/b', 'h3/c')
        # c kept running on h3 while its sshd was down: a session is not the VM.
        "$(($vms | Where-Object Name -EQ c).Status)" | Should -BeIn @('Starting', 'Running')
    }
}
