# Runner: host-exclusive
# Issue 4, acceptance 1 (and deliverable 6, -Verbose): every start fail point with the action
# 'error', on real QEMU. Start-MyVm fails with VmStartFailed naming the step; afterwards nothing of
# the attempt exists (process, socket, pid file, TAP device, runtime folder, virtiofsd lock file,
# start journal), the VM is Failed with a reason naming the step, an overlay that existed before is
# the very same file (pinned by a hard link: same inode, never deleted or recreated; byte-identical
# before QEMU's launch), and a plain Start-MyVm then succeeds. -Verbose narrates every step and
# every undo, newest first. start.network runs in a network namespace of its own (the module in a
# child pwsh inside it), so the host's interfaces are never touched.

BeforeDiscovery {
    $script:plainSteps = @('storage', 'runtime-dir', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit')
    $script:volumeSteps = @('storage', 'runtime-dir', 'volumes', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite   # this suite does not test the KVM probe

    function Invoke-FailedStart {
        # Start-MyVm with one fail point set for that call only; errors and verbose lines captured.
        param([string] $Name, [string] $Step)
        $startErrors = $null
        $env:MYHV_FAILPOINTS = "start.$Step=error"
        try {
            $out = @(Start-MyVm -Name $Name -Verbose -ErrorAction SilentlyContinue -ErrorVariable startErrors 4>&1)
        }
        finally { Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue }
        [pscustomobject]@{
            Errors  = @($startErrors)
            Verbose = Get-MyHvVerboseLine -Output $out
            Objects = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        }
    }

    function Get-Normalized {
        # A process record is described without its pid before launch and with it after.
        param([string] $Description)
        $Description -replace '\(pid not yet known\)|pid \d+', 'PID'
    }

    function Assert-VerboseNarration {
        # Each step up to the failing one, in order; one undo per recorded artifact, newest first.
        param([string[]] $Verbose, [string[]] $ExpectedSteps, [string] $Step, [string[]] $LiveProcessPrograms = @())
        $steps = @($Verbose | Where-Object { $_ -match '^Step \S+$' } | ForEach-Object { $_.Substring(5) })
        ($steps -join ', ') | Should -Be ($ExpectedSteps -join ', ') -Because '-Verbose names each step it runs, in order, up to the failing one'
        $Verbose | Should -Contain "Step $Step"
        @($Verbose | Where-Object { $_ -match "step '$([regex]::Escape($Step))' failed" }) | Should -Not -BeNullOrEmpty -Because 'the rollback is announced with the failing step'
        $recorded = @($Verbose | Where-Object { $_ -match '^recorded ' } | ForEach-Object { Get-Normalized ($_ -replace '^recorded ', '') })
        $undoLines = @($Verbose | Where-Object { $_ -match '^Undo ' })
        $undone = @($undoLines | ForEach-Object { Get-Normalized ($_ -replace '^Undo ', '' -replace ': (removed|already gone|could not remove.*|kept.*)$', '') })
        $recorded.Count | Should -BeGreaterThan 0
        [array]::Reverse($recorded)
        ($undone -join "`n") | Should -Be ($recorded -join "`n") -Because 'every recorded artifact is undone, newest first'
        @($undoLines | Where-Object { $_ -notmatch ': (removed|already gone)$' }) | Should -BeNullOrEmpty -Because 'no undo failed'
        foreach ($program in $LiveProcessPrograms) {
            @($undoLines | Where-Object { $_ -match "^Undo \S*/$([regex]::Escape($program)) pid \d+: removed$" }) |
                Should -Not -BeNullOrEmpty -Because "$program was running when the step failed, and its undo ended it"
        }
    }

    function Assert-StartFailedAt {
        # The error record: VmStartFailed, naming the failed step.
        param($Attempt, [string] $Step)
        $Attempt.Objects | Should -BeNullOrEmpty
        $Attempt.Errors | Should -HaveCount 1
        $record = $Attempt.Errors[0]
        $record | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $record.FullyQualifiedErrorId | Should -BeLike 'VmStartFailed,*'
        $record.Exception.Message | Should -Match "step '$([regex]::Escape($Step))'"
        $record.Exception.FailedStep | Should -Be $Step
        @($record.Exception.Leftovers) | Should -BeNullOrEmpty -Because 'the rollback removed everything'
        # The hint is the step's own (the PowerShell side knows the step by the name the start records), never the generic one.
        $stepHint = @{
            'storage' = 'The start was rolled back'; 'runtime-dir' = 'The start was rolled back'; 'guest-channel' = 'The start was rolled back'
            'guest-agent' = 'The start was rolled back'; 'volumes' = "virtiofsd's message"; 'hypervisor-launch' = "QEMU's own message"
            'api-ready' = 'Get-MyVmConsole'; 'commit' = 'Get-MyVmConsole'
        }
        $record.ErrorDetails.RecommendedAction | Should -Match ([regex]::Escape($stepHint[$Step]))
    }

    function Assert-FailedVm {
        param([string] $Name, [string] $Step)
        $vm = Get-MyVm -Name $Name -ErrorAction Stop
        $vm.Status | Should -Be 'Failed'
        $vm.Pid | Should -BeNullOrEmpty
        $vm.StatusReason | Should -Match "step '$([regex]::Escape($Step))'"
    }
}

AfterAll {
    Complete-MyHvTestSuite -RemoveHome -HomePath $vmHome -Netns $script:netns -NetVm 'fpnet'   # the bridged VM from inside its namespace, then all
}

Describe 'Start fail points with action error' {

    Context 'a VM with user networking whose overlay holds data from an earlier run' {
        BeforeAll {
            $script:plain = 'fpe'
            $null = New-MyHvTestVm -Name $plain -RanOnce   # its overlay holds data from an earlier run
            $script:plainStepsRun = @(Get-MyHvStartStep)
        }

        It 'start.<_>: VmStartFailed names the step, nothing of the attempt is left, the overlay is the same file, and the next start works' -ForEach $plainSteps {
            $step = $_
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $plain
            Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name $plain -ByteIdentical:(Test-MyHvBeforeLaunch -Step $step) -ScriptBlock {
                param($pin)
                $attempt = Invoke-FailedStart -Name $plain -Step $step

                Assert-StartFailedAt -Attempt $attempt -Step $step
                $live = if ($step -in 'hypervisor-launch', 'api-ready', 'commit') { @('qemu-system-x86_64') } else { @() }
                Assert-VerboseNarration -Verbose $attempt.Verbose -Step $step -LiveProcessPrograms $live `
                    -ExpectedSteps $plainStepsRun[0..([array]::IndexOf($plainStepsRun, $step))]
                @(Get-MyHvVmResidue -HomePath $vmHome -Name $plain) | Should -BeNullOrEmpty
                Assert-FailedVm -Name $plain -Step $step
            }
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $plain
        }
    }

    Context 'a VM that never ran (no overlay yet)' {
        It 'start.storage: the overlay the attempt created is removed, and the next start creates it again' {
            $name = 'fpnew'
            $paths = Get-MyHvVmPath -HomePath $vmHome -Name $name
            $null = New-MyVm -Name $name -ErrorAction Stop
            $paths.Overlay | Should -Not -Exist -Because 'precondition: a new VM has no overlay'

            $attempt = Invoke-FailedStart -Name $name -Step 'storage'

            Assert-StartFailedAt -Attempt $attempt -Step 'storage'
            $attempt.Verbose | Should -Contain "recorded disk overlay $($paths.Overlay)" -Because 'this attempt created the overlay'
            $attempt.Verbose | Should -Contain "Undo disk overlay $($paths.Overlay): removed"
            $paths.Overlay | Should -Not -Exist
            "$($paths.Overlay).creating" | Should -Not -Exist
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $name) | Should -BeNullOrEmpty
            Assert-FailedVm -Name $name -Step 'storage'
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $name
            $paths.Overlay | Should -Exist
        }
    }

    Context 'a VM with two volumes (one read-only), served by virtiofsd' {
        BeforeAll {
            $script:volVm = 'fpvol'
            $script:shareRw = Join-Path $vmHome 'share-rw'
            $script:shareRo = Join-Path $vmHome 'share-ro'
            $null = New-Item -ItemType Directory -Path $shareRw, $shareRo -Force
            Set-Content -LiteralPath (Join-Path $shareRw 'keep.txt') -Value 'host data'
            $null = New-MyHvTestVm -Name $volVm -Parameters @{ Volume = @{ Path = $shareRw; Tag = 'data' }, @{ Path = $shareRo; Tag = 'ro'; ReadOnly = $true } } -RanOnce   # its overlay holds data from an earlier run
            $script:volumeStepsRun = @(Get-MyHvStartStep -Volumes)
        }

        It 'start.<_>: VmStartFailed names the step; no virtiofsd, socket or /run/virtiofsd lock file is left; the next start works' -ForEach $volumeSteps {
            $step = $_
            Initialize-MyHvStoppedVm -HomePath $vmHome -Name $volVm
            Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name $volVm -ByteIdentical:(Test-MyHvBeforeLaunch -Step $step) -ScriptBlock {
                param($pin)
                $attempt = Invoke-FailedStart -Name $volVm -Step $step

                Assert-StartFailedAt -Attempt $attempt -Step $step
                # Before QEMU connects, each virtiofsd certainly still runs when the rollback starts.
                $live = switch ($step) {
                    { $_ -in 'volumes', 'guest-channel', 'guest-agent' } { @('virtiofsd'); break }
                    { $_ -in 'hypervisor-launch', 'api-ready', 'commit' } { @('qemu-system-x86_64'); break }
                    default { @() }
                }
                Assert-VerboseNarration -Verbose $attempt.Verbose -Step $step -LiveProcessPrograms $live `
                    -ExpectedSteps $volumeStepsRun[0..([array]::IndexOf($volumeStepsRun, $step))]
                if ([array]::IndexOf($volumeStepsRun, $step) -ge [array]::IndexOf($volumeStepsRun, 'volumes')) {
                    @($attempt.Verbose | Where-Object { $_ -match '^Undo helper lock file /run/virtiofsd/' }) | Should -HaveCount 2 -Because 'each volume recorded its lock file'
                }
                @(Get-MyHvVmResidue -HomePath $vmHome -Name $volVm) | Should -BeNullOrEmpty
                Assert-MyHvNoVirtiofsd -HomePath $vmHome
                Assert-FailedVm -Name $volVm -Step $step
                Join-Path $shareRw 'keep.txt' | Should -FileContentMatchExactly 'host data' -Because 'a rollback never touches a volume folder'
            }
            Assert-MyHvPlainStartWorks -HomePath $vmHome -Name $volVm
        }
    }

    Context 'a bridged VM, run by the module inside a network namespace' {
        BeforeAll {
            $script:netns = "mhtxe$PID"
            $script:netVm = 'fpnet'
            # The namespace made; the VM created, run once (the overlay exists from then on) and stopped, all inside it.
            $script:netTap = Initialize-MyHvBridgedVm -HomePath $vmHome -Netns $netns -Name $netVm -IPAddress 10.77.0.2/24 -CreateNamespace
        }

        It 'start.network: VmStartFailed names the step, the TAP device is gone, the overlay is untouched, and the next start works' {
            Get-MyHvNamespaceDevice -Prefix '' -Namespace $netns | Should -Not -Contain $netTap -Because 'precondition: no TAP device before the attempt'
            Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name $netVm -ByteIdentical -ScriptBlock {
                param($pin)
                $failed = Invoke-MyHvChild -Netns $netns -Environment @{ MYHV_HOME = $vmHome; TX_VM = $netVm } -ScriptBlock {
                    $startErrors = $null
                    $env:MYHV_FAILPOINTS = 'start.network=error'
                    $out = @(Start-MyVm -Name $env:TX_VM -Verbose -ErrorAction SilentlyContinue -ErrorVariable startErrors 4>&1)
                    Remove-Item Env:MYHV_FAILPOINTS
                    $vm = Get-MyVm -Name $env:TX_VM
                    @{
                        ErrorIds   = @($startErrors | ForEach-Object FullyQualifiedErrorId)
                        Messages   = @($startErrors | ForEach-Object { $_.Exception.Message })
                        FailedStep = @($startErrors | ForEach-Object { $_.Exception.FailedStep })
                        Verbose    = @(Get-MyHvVerboseLine -Output $out)
                        Status     = "$($vm.Status)"
                        Reason     = $vm.StatusReason
                        Pid        = $vm.Pid
                        Devices    = @(Get-ChildItem -LiteralPath /sys/class/net | ForEach-Object Name)
                        Residue    = @(Get-MyHvVmResidue -HomePath $env:MYHV_HOME -Name $env:TX_VM)
                    }
                }
                $r = $failed.Result
                $r | Should -Not -BeNullOrEmpty -Because ($failed.Output -join "`n")
                @($r.ErrorIds) | Should -HaveCount 1
                $r.ErrorIds[0] | Should -BeLike 'VmStartFailed,*'
                $r.Messages[0] | Should -Match "step 'network'"
                $r.FailedStep[0] | Should -Be 'network'
                $r.Verbose | Should -Contain "recorded TAP device $netTap"
                $r.Verbose | Should -Contain "Undo TAP device ${netTap}: removed" -Because 'the TAP device existed when the step failed, and its undo deleted it'
                Assert-VerboseNarration -Verbose $r.Verbose -Step 'network' -ExpectedSteps @('storage', 'runtime-dir', 'network')
                $r.Status | Should -Be 'Failed'
                $r.Pid | Should -BeNullOrEmpty
                $r.Reason | Should -Match "step 'network'"
                @($r.Devices) | Should -Not -Contain $netTap
                @($r.Devices | Where-Object { $_ -like 'mh*' }) | Should -BeNullOrEmpty
                @($r.Residue) | Should -BeNullOrEmpty -Because 'inside the namespace nothing of the VM is left'
                Get-MyHvNamespaceDevice -Prefix '' -Namespace $netns | Should -Not -Contain $netTap
                @(Get-MyHvVmResidue -HomePath $vmHome -Name $netVm -SkipNetDevices) | Should -BeNullOrEmpty
            }

            $again = Invoke-MyHvChild -Netns $netns -Environment @{ MYHV_HOME = $vmHome; TX_VM = $netVm } -ScriptBlock {
                $started = Start-MyVm -Name $env:TX_VM -PassThru -ErrorAction Stop
                $tapUp = Test-Path "/sys/class/net/$($started.TapDevice)"
                Stop-MyVm -Name $env:TX_VM -Force -ErrorAction Stop
                @{
                    Status      = "$($started.Status)"; TapUp = $tapUp
                    AfterStop   = "$((Get-MyVm -Name $env:TX_VM).Status)"
                    Residue     = @(Get-MyHvVmResidue -HomePath $env:MYHV_HOME -Name $env:TX_VM)
                }
            }
            $again.Result | Should -Not -BeNullOrEmpty -Because ($again.Output -join "`n")
            $again.Result.Status | Should -Be 'Running'
            $again.Result.TapUp | Should -BeTrue
            $again.Result.AfterStop | Should -Be 'Stopped'
            @($again.Result.Residue) | Should -BeNullOrEmpty
        }
    }
}
