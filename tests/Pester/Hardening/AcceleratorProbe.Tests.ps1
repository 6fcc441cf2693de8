# The KVM probe (MYHV_ACCEL=auto) is safe across processes: it runs under a per-home lock file
# (cache/accelerator.lock) in a probe folder of its own (cache/kvm-probe-<attempt>), and its
# answer (cache/accelerator.json) is cached only when the probe really reached a verdict. On this
# host /dev/kvm opens but a KVM guest hangs, so a real probe runs its full time and answers tcg.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    $env:MYHV_ACCEL = 'auto'   # the probe is the subject here
    $script:homes = [System.Collections.Generic.List[string]]::new()
    $script:bootId = [System.IO.File]::ReadAllText('/proc/sys/kernel/random/boot_id').Trim()
    $script:canProbe = (Test-Path /dev/kvm) -and [bool] (Get-Command qemu-system-x86_64 -ErrorAction Ignore)

    function Get-ProbeLeftover([string] $HomePath) {
        @(Get-ChildItem -LiteralPath (Join-Path $HomePath 'cache') -Directory -Force -ErrorAction SilentlyContinue | Where-Object Name -Like 'kvm-probe*' | ForEach-Object FullName) +
        @(Get-MyHvProcess -Needle $HomePath | ForEach-Object { "process $($_.Pid): $($_.CommandLine)" })
    }
}

AfterAll {
    foreach ($h in $script:homes) {
        $env:MYHV_HOME = $h
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
        Assert-MyHvNoLeftovers -Home $h
    }
    Remove-Item Env:MYHV_ACCEL -ErrorAction SilentlyContinue
}

Describe 'The accelerator probe across processes' {
    It 'two concurrent first starts in a new home both succeed, with one probe and one consistent cache' {
        Skip-UnlessPrerequisite -Name '/dev/kvm and qemu-system-x86_64' -Condition $script:canProbe
        $homePath = New-MyHvTestHome
        $script:homes.Add($homePath)
        $null = New-MyVm -Name 'p1' -Image tiny
        $null = New-MyVm -Name 'p2' -Image tiny
        $go = Join-Path $homePath 'go'
        $children = foreach ($vmName in 'p1', 'p2') {
            $work = New-MyHvTestDir -Prefix 'mhAp'
            $child = Start-MyHvChild -Environment @{ MYHV_HOME = $homePath; MYHV_ACCEL = $null; HT_VM = $vmName; HT_GO = $go; HT_READY = "$work/ready" } -ScriptBlock {
                # Both children are loaded and waiting before either starts: the starts really overlap.
                [System.IO.File]::WriteAllText($env:HT_READY, 'ready')
                while (-not (Test-Path -LiteralPath $env:HT_GO)) { Start-Sleep -Milliseconds 10 }
                $errors = $null
                $out = @(Start-MyVm -Name $env:HT_VM -Verbose -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors 4>&1)
                $vm = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Select-Object -First 1
                @{
                    Status      = if ($vm) { "$($vm.Status)" } else { '' }
                    Accelerator = if ($vm) { "$($vm.Accelerator)" } else { '' }
                    Verbose     = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
                    Errors      = @($errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" })
                }
            }
            [pscustomobject]@{ Name = $vmName; Work = $work; Process = $child }
        }
        Wait-MyHvCondition -TimeoutSeconds 120 -Because 'both children to be ready' -Condition {
            @($children | Where-Object { Test-Path -LiteralPath "$($_.Work)/ready" }).Count -eq 2
        }.GetNewClosure()
        [System.IO.File]::WriteAllText($go, 'go')
        $results = foreach ($c in $children) {
            $done = Receive-MyHvChild -Process $c.Process -TimeoutSeconds 180
            $done.ExitCode | Should -Be 0 -Because "child $($c.Name) ran to the end: $($done.Output -join "`n")"
            $done.Result
        }

        foreach ($r in $results) {
            @($r.Errors) | Should -BeNullOrEmpty
            $r.Status | Should -Be 'Running'
        }
        $probed = @($results | Where-Object { @($_.Verbose | Where-Object { $_ -like 'Probing whether KVM*' }).Count -gt 0 })
        $probed.Count | Should -Be 1 -Because 'one process probes under the lock; the other waits and reads its answer'

        $cacheFile = Join-Path $homePath 'cache/accelerator.json'
        $cache = Get-Content -Raw -LiteralPath $cacheFile | ConvertFrom-Json
        $cache.bootId | Should -Be $script:bootId
        $cache.accelerator | Should -BeIn @('kvm', 'tcg')
        foreach ($r in $results) { $r.Accelerator | Should -Be $cache.accelerator -Because 'both starts use the one cached answer' }
        @(Get-ChildItem -LiteralPath (Join-Path $homePath 'cache') -Force | ForEach-Object Name | Sort-Object) |
            Should -Be @('accelerator.json', 'accelerator.lock') -Because 'no probe folder or temp file is left'
        Stop-MyVm -Name 'p1', 'p2' -Force
        @(Get-ProbeLeftover $homePath) | Should -BeNullOrEmpty
    }

    It 'a probe stopped before its verdict caches nothing and leaves nothing; the next start probes again' {
        Skip-UnlessPrerequisite -Name '/dev/kvm and qemu-system-x86_64' -Condition $script:canProbe
        $homePath = New-MyHvTestHome
        $script:homes.Add($homePath)
        $null = New-MyVm -Name 'c1' -Image tiny
        $rs = New-MyHvModuleRunspace
        try {
            $r = Invoke-MyHvStoppedCommand -Runspace $rs -Command Start-MyVm -Parameters @{ Name = 'c1'; Verbose = $true } -Stream Verbose -Pattern '^Probing whether KVM'
        }
        finally { $rs.Dispose() }
        $r.Fired | Should -BeTrue -Because 'the start reached the probe'
        $r.Stopped | Should -BeTrue
        $r.ElapsedMs | Should -BeLessThan 3500 -Because 'the stop ended the 4 s probe early'
        Join-Path $homePath 'cache/accelerator.json' | Should -Not -Exist -Because 'a probe without a verdict is not cached'
        @(Get-ProbeLeftover $homePath) | Should -BeNullOrEmpty -Because 'the probe QEMU and its folder are gone'
        $state = Get-MyHvRecordedState -HomePath $homePath -Name 'c1'
        "$($state.status)" | Should -Be 'Failed'
        "$($state.reason)" | Should -Match 'cancelled'

        $out = @(Start-MyVm -Name 'c1' -Verbose -PassThru -ErrorAction Stop 4>&1)
        @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Probing whether KVM*' }) |
            Should -Not -BeNullOrEmpty -Because 'nothing was cached, so the next start probes'
        ($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).Status | Should -Be 'Running'
        (Get-Content -Raw -LiteralPath (Join-Path $homePath 'cache/accelerator.json') | ConvertFrom-Json).bootId | Should -Be $script:bootId
        Stop-MyVm -Name 'c1' -Force
        @(Get-ProbeLeftover $homePath) | Should -BeNullOrEmpty
    }
}
