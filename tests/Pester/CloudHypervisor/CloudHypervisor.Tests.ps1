# Issue 18: the Cloud Hypervisor engine behind the driver boundary. CH is not installable here and
# no KVM boots guests, so the engine is proven against the STAND-IN for Cloud Hypervisor
# (tests/CloudHypervisorStandIn: CH's REST API, status codes, VM state machine and command-line
# syntax; a pretend guest that prints the image's ready line; fault switches). The stand-in is put
# first on PATH under the name cloud-hypervisor, so the module finds and checks it as it would the
# real binary. What this proves and what it does not: README, "Engines".
# Acceptance against the stand-in: New-MyVm -Hypervisor (completion, validation), the lifecycle,
# error ids, every start fail point x {error, kill}, a dead hypervisor (kill -9: VmNotRunning, the
# stale api.sock and vsock.sock swept, the next start works), stats, the pipeline, and each fault
# switch giving its documented error and leaving nothing behind. With a real cloud-hypervisor on
# PATH and a KVM that boots guests, the lifecycle case runs on it too; otherwise that case is
# skipped as "not installable on this platform: cloud-hypervisor" (even under CI=true).

BeforeDiscovery {
    # Every start step a CH VM without network, volumes or first-boot settings runs (no agent port on CH).
    $script:failSteps = @('storage', 'runtime-dir', 'guest-channel', 'hypervisor-launch', 'api-ready', 'commit')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'CloudHypervisorSupport.psm1') -Force
    $null = Import-MyHvTestModule
    # Decided before the stand-in goes on PATH: is there a real CH (and KVM) on this host?
    $script:realCh = Test-RealCloudHypervisor
    $script:standIn = Get-ChStandInDirectory
    $script:savedPath = $env:PATH
    $script:savedAccel = $env:MYHV_ACCEL
    $env:PATH = "${standIn}:$env:PATH"
    Remove-Item Env:MYHV_ACCEL, Env:MYHV_FAILPOINTS, Env:CH_STAND_IN_FAULTS -ErrorAction SilentlyContinue
    $script:vmHome = New-MyHvTestHome
    $script:ch = 'cloud-hypervisor'

    function New-ChVm {
        param([string] $Name)
        New-MyVm -Name $Name -Hypervisor $ch -ErrorAction Stop
    }

    function Assert-NothingLeft {
        # Nothing of the VM's run: no process, socket, runtime folder (api.sock, api.sock.lock,
        # vsock.sock, the VMM's log), journal; and no stand-in process of this home at all.
        param([string] $Name, [string] $Because = '')
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $Name) | Should -BeNullOrEmpty -Because $Because
        @(Get-ChStandInProcess -HomePath $vmHome) | Should -BeNullOrEmpty -Because $Because
    }

    function Stop-ChRunning {
        # Each case starts from no running VM, so one failing case cannot make the next fail too.
        @(Get-MyVm -ErrorAction SilentlyContinue | Where-Object Status -In 'Running', 'Paused', 'Starting', 'Stopping') |
            Stop-MyVm -Force -ErrorAction SilentlyContinue
    }

    function Invoke-ChApi {
        # The module's own HTTP-over-unix-socket client, as a test probe of the stand-in.
        param([string] $Name, [string] $Method, [string] $Endpoint)
        $api = [MyHypervisor.Core.Hypervisors.CloudHypervisor.CloudHypervisorApi]::new((Get-MyHvVmPath -HomePath $vmHome -Name $Name).ApiSocket)
        # Assigned straight from the call: a JsonObject passing through a pipeline is enumerated.
        $answer = $null
        if ($Method -eq 'GET') { $answer = $api.Get($Endpoint, [TimeSpan]::FromSeconds(5), [System.Threading.CancellationToken]::None) }
        else { $answer = $api.Put($Endpoint, [TimeSpan]::FromSeconds(5), $null, [System.Threading.CancellationToken]::None) }
        # As JSON text, for the same reason.
        if ($null -ne $answer) { $answer.ToJsonString() | ConvertFrom-Json }
    }

    function Test-Lifecycle {
        # The lifecycle, on whichever cloud-hypervisor is first on PATH. The stand-in's guest answers
        # the hybrid vsock channel; the tiny image on real CH speaks virtio-serial only (console line).
        param([string] $Name, [string] $ReadyThrough = 'channel|console')
        $verbose = Start-MyVm -Name $Name -Wait -TimeoutSeconds 120 -Verbose -ErrorAction Stop 4>&1
        $vm = Get-MyVm -Name $Name
        $vm.Status | Should -Be 'Running'
        $vm.Hypervisor | Should -Be $ch
        $process = @(Get-ChStandInProcess -HomePath $vmHome)
        $process.Pid | Should -Be $vm.Pid -Because 'the recorded pid is the VMM the driver launched'
        $paths = Get-MyHvVmPath -HomePath $vmHome -Name $Name
        $process[0].CommandLine | Should -Contain "path=$($paths.ApiSocket)" -Because 'CH runs with --api-socket path=<run>/api.sock'
        (Invoke-ChApi -Name $Name -Method GET -Endpoint 'vmm.ping').pid | Should -Be $vm.Pid
        (Invoke-ChApi -Name $Name -Method GET -Endpoint 'vm.info').state | Should -Be 'Running'
        (Get-MyHvVerboseLine $verbose) -join "`n" | Should -Match "reported ready through its ($ReadyThrough)"
        (Get-MyVmConsole -Name $Name) -join "`n" | Should -Match ([regex]::Escape('myhv-guest: ready'))
        Join-Path $paths.RunDir 'vsock.sock' | Should -Exist

        Suspend-MyVm -Name $Name -ErrorAction Stop
        (Get-MyVm -Name $Name).Status | Should -Be 'Paused'
        (Invoke-ChApi -Name $Name -Method GET -Endpoint 'vm.info').state | Should -Be 'Paused'
        Resume-MyVm -Name $Name -ErrorAction Stop
        (Get-MyVm -Name $Name).Status | Should -Be 'Running'

        $stats = Get-MyVmStats -Name $Name -ErrorAction Stop
        $stats.Status | Should -Be 'Running'
        $stats.MemoryRssBytes | Should -BeGreaterThan 0
        $stats.DiskReadBytes | Should -BeGreaterThan 0 -Because 'vm.counters reports the disk'
        $stats.CpuSeconds | Should -BeGreaterOrEqual 0

        $stopped = Stop-MyVm -Name $Name -PassThru -ErrorAction Stop
        $stopped.Status | Should -Be 'Stopped'
        "$($stopped.StopMethod)" | Should -Be 'GuestPowerOff' -Because 'vm.power-button powered the guest off, which ends the VMM'
        Assert-NothingLeft -Name $Name -Because 'a stop removes the api socket, its .lock, the vsock socket and the VMM log'
    }
}

AfterAll {
    foreach ($vm in @(Get-MyVm -ErrorAction SilentlyContinue)) { Remove-MyVm -Name $vm.Name -Force -ErrorAction SilentlyContinue }
    $env:PATH = $savedPath
    $env:MYHV_ACCEL = $savedAccel
    Remove-Item Env:CH_STAND_IN_FAULTS, Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    Assert-MyHvNoLeftovers -Home $vmHome
}

Describe 'New-MyVm -Hypervisor' {
    BeforeEach { Stop-ChRunning }

    It 'defines a Cloud Hypervisor VM, with no network by default (CH has no user-mode network)' {
        $vm = New-ChVm -Name 'chdef'
        $vm.Hypervisor | Should -Be $ch
        "$($vm.Network)" | Should -Match 'None'
        $definition = Get-Content -Raw (Join-Path $vmHome 'vms/chdef/definition.json') | ConvertFrom-Json
        $definition.hypervisor | Should -Be $ch
    }

    It 'refuses an unknown engine and a user-mode network on CH, before anything is written' {
        { New-MyVm -Name 'chbad1' -Hypervisor 'xen' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        { New-MyVm -Name 'chbad2' -Hypervisor $ch -Network User -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        Join-Path $vmHome 'vms/chbad1' | Should -Not -Exist
        Join-Path $vmHome 'vms/chbad2' | Should -Not -Exist
    }

    It 'Set-MyVm refuses a user-mode network on CH too, and leaves the definition byte-identical' {
        $null = New-ChVm -Name 'chset'
        $file = Join-Path $vmHome 'vms/chset/definition.json'
        $before = Get-Content -Raw $file
        $err = $null
        Set-MyVm -Name 'chset' -Network User -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*'
        "$($err[0])" | Should -BeLike '*Cloud Hypervisor has no user-mode network*'
        Get-Content -Raw $file | Should -BeExactly $before
        Remove-MyVm -Name 'chset' -Force -Confirm:$false
    }

    It 'completes the engine names' {
        $line = 'New-MyVm x -Hypervisor cl'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Be @($ch)
        $line = 'New-MyVm x -Hypervisor '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('qemu', $ch)
    }

    It 'Test-MyVmHost reports the engine found on PATH, its version and the state of KVM' {
        $check = Test-MyVmHost | Where-Object Check -EQ 'CloudHypervisor'
        $check.Detail | Should -Match ([regex]::Escape("$standIn/cloud-hypervisor: cloud-hypervisor v43.0.0-stand-in"))
        $check.Detail | Should -Match '/dev/kvm (does not exist|is accessible|is not accessible)'
    }
}

Describe 'Lifecycle against the stand-in' {
    BeforeEach { Stop-ChRunning }

    It 'starts (vm.create + vm.boot, ready through the hybrid vsock channel), pauses, resumes, counts and stops' {
        $null = New-ChVm -Name 'chlife'
        Test-Lifecycle -Name 'chlife' -ReadyThrough 'channel'
    }

    It 'climbs the stop ladder past a guest that ignores the power button (vm.shutdown, vmm.shutdown)' {
        $env:CH_STAND_IN_FAULTS = 'ignore-power-button'
        try { Start-MyVm -Name 'chlife' -ErrorAction Stop }
        finally { Remove-Item Env:CH_STAND_IN_FAULTS }
        $stopped = Stop-MyVm -Name 'chlife' -TimeoutSeconds 1 -PassThru -ErrorAction Stop
        "$($stopped.StopMethod)" | Should -Be 'HypervisorQuit'
        Assert-NothingLeft -Name 'chlife'
    }

    It 'a guest power-off behind the module''s back ends the VMM: Stopped, not Failed' {
        Start-MyVm -Name 'chlife' -ErrorAction Stop
        $null = Invoke-ChApi -Name 'chlife' -Method PUT -Endpoint 'vm.power-button'
        Wait-MyHvCondition -TimeoutSeconds 30 -Because 'the VMM exits' -Condition { @(Get-ChStandInProcess -HomePath $vmHome).Count -eq 0 }
        $vm = Get-MyVm -Name 'chlife'
        $vm.Status | Should -Be 'Stopped'
        Assert-NothingLeft -Name 'chlife'
    }

    It 'works in the pipeline: names | New-MyVm | Start-MyVm | Get-MyVmStats, then Get-MyVm | Stop-MyVm' {
        $stats = @('chp1', 'chp2' | New-MyVm -Hypervisor $ch -ErrorAction Stop | Start-MyVm -PassThru -ErrorAction Stop | Get-MyVmStats -ErrorAction Stop)
        $stats.Name | Should -Be @('chp1', 'chp2')
        $stats.Status | Should -Be @('Running', 'Running')
        @(Get-MyVm -Name 'chp*' | Stop-MyVm -Force -PassThru -ErrorAction Stop).Status | Should -Be @('Stopped', 'Stopped')
        Get-MyVm -Name 'chp*' | Remove-MyVm -Force -ErrorAction Stop
        Assert-NothingLeft -Name 'chp1'
        Assert-NothingLeft -Name 'chp2'
    }
}

Describe 'Error ids on Cloud Hypervisor' {
    BeforeEach { Stop-ChRunning }

    It 'gives the contract''s ids: running, not running, not found, no agent, no memory checkpoint, no TCG, no binary' {
        Start-MyVm -Name 'chlife' -ErrorAction Stop
        { Start-MyVm -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'VmAlreadyRunning*'
        { Invoke-MyVmCommand -Name 'chlife' -FilePath /bin/true -ErrorAction Stop } | Should -Throw -ErrorId 'GuestAgentUnavailable*' -ExpectedMessage '*virtio-serial*Cloud Hypervisor*'
        { Checkpoint-MyVm -Name 'chlife' -CheckpointName 'mem' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*' -ExpectedMessage '*Cloud Hypervisor*vm.snapshot*'
        (Get-MyVm -Name 'chlife').Status | Should -Be 'Running' -Because 'a refused checkpoint leaves the VM as it was'
        Stop-MyVm -Name 'chlife' -Force -ErrorAction Stop
        { Get-MyVmStats -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotRunning*'
        { Get-MyVm -Name 'chnone' -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotFound*'
        $env:MYHV_ACCEL = 'tcg'
        try { { Start-MyVm -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'PrerequisiteMissing*' -ExpectedMessage '*no TCG*' }
        finally { Remove-Item Env:MYHV_ACCEL }
        $env:PATH = $savedPath
        try {
            if (-not (Get-Command cloud-hypervisor -ErrorAction Ignore)) {
                { Start-MyVm -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'PrerequisiteMissing*'
            }
        }
        finally { $env:PATH = "${standIn}:$savedPath" }
        Assert-NothingLeft -Name 'chlife'
    }

    It 'maps CH''s status codes: 204 ok, 404 not created, 405 wrong state, with the body' {
        Start-MyVm -Name 'chlife' -ErrorAction Stop
        try {
            Invoke-ChApi -Name 'chlife' -Method PUT -Endpoint 'vm.pause' | Should -BeNullOrEmpty -Because '204 has no body'
            $wrongState = { Invoke-ChApi -Name 'chlife' -Method PUT -Endpoint 'vm.pause' } | Should -Throw -PassThru
            $wrongState.Exception.InnerException.Status | Should -Be 'MethodNotAllowed'
            $wrongState.Exception.InnerException.Message | Should -Match 'vm.pause: the VM is not in a state that allows it: VM is Paused'
            $null = Invoke-ChApi -Name 'chlife' -Method PUT -Endpoint 'vm.resume'
            $null = Invoke-ChApi -Name 'chlife' -Method PUT -Endpoint 'vm.delete'
            $notCreated = { Invoke-ChApi -Name 'chlife' -Method GET -Endpoint 'vm.info' } | Should -Throw -PassThru
            $notCreated.Exception.InnerException.Status | Should -Be 'NotFound'
        }
        finally { Stop-MyVm -Name 'chlife' -Force -ErrorAction Stop }
        Assert-NothingLeft -Name 'chlife'
    }
}

Describe 'Start fail points on Cloud Hypervisor' {
    BeforeEach { Stop-ChRunning }

    It 'start.<_>=error: VmStartFailed at that step, rolled back, nothing left' -ForEach $failSteps {
        $env:MYHV_FAILPOINTS = "start.$_=error"
        try { $failure = { Start-MyVm -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'VmStartFailed*' -PassThru }
        finally { Remove-Item Env:MYHV_FAILPOINTS }
        $failure.Exception.Message | Should -Match "at step '$_'"
        (Get-MyVm -Name 'chlife').Status | Should -Be 'Failed'
        Assert-NothingLeft -Name 'chlife'
    }

    It 'a kill at every start step: the next Get-MyVm rolls each attempt back, then a start works' -ForEach @(@{ Steps = $failSteps }) {
        # One killed child per step, all at once (each on a VM of its own): the wave costs one child's time.
        $children = foreach ($step in $Steps) {
            $name = "chk$($Steps.IndexOf($step))"
            $null = New-ChVm -Name $name
            [pscustomobject]@{
                Name = $name; Step = $step
                Process = Start-MyHvChild -Environment @{ MYHV_HOME = $vmHome; MYHV_FAILPOINTS = "start.$step=kill"; TX_VM = $name; PATH = $env:PATH } -ScriptBlock {
                    Start-MyVm -Name $env:TX_VM -ErrorAction Stop
                    @{ Returned = $true }
                }
            }
        }
        foreach ($child in $children) {
            $done = Receive-MyHvChild -Process $child.Process -TimeoutSeconds 180
            $done.ExitCode | Should -Be 137 -Because "the child dies by SIGKILL at start.$($child.Step): $($done.Output -join "`n")"
            $done.Result | Should -BeNullOrEmpty -Because 'the child never reached the end of its script'
        }
        foreach ($child in $children) {
            $vm = Get-MyVm -Name $child.Name
            $vm.Status | Should -Be 'Failed' -Because "the attempt killed at $($child.Step) was rolled back"
            $vm.StatusReason | Should -Match "interrupted at step '$($child.Step)'"
        }
        foreach ($child in $children) {
            @(Get-MyHvVmResidue -HomePath $vmHome -Name $child.Name) | Should -BeNullOrEmpty -Because "nothing of the attempt killed at $($child.Step) is left"
        }
        @(Get-ChStandInProcess -HomePath $vmHome) | Should -BeNullOrEmpty -Because 'a VMM launched before the kill was ended by the rollback'
        Start-MyVm -Name 'chk0' -ErrorAction Stop
        Stop-MyVm -Name 'chk0' -Force -ErrorAction Stop
        foreach ($child in $children) { Remove-MyVm -Name $child.Name -Force -ErrorAction Stop }
        Assert-NothingLeft -Name 'chk0'
    }
}

Describe 'A dead Cloud Hypervisor' {
    BeforeEach { Stop-ChRunning }

    It 'kill -9: VmNotRunning, Failed, the stale api.sock and vsock.sock swept, and the next start works' {
        Start-MyVm -Name 'chlife' -ErrorAction Stop
        $vm = Get-MyVm -Name 'chlife'
        Stop-MyHvProcess -ProcessId $vm.Pid
        Wait-MyHvCondition -TimeoutSeconds 30 -Because 'the VMM is gone' -Condition { @(Get-ChStandInProcess -HomePath $vmHome).Count -eq 0 }
        $paths = Get-MyHvVmPath -HomePath $vmHome -Name 'chlife'
        $paths.ApiSocket | Should -Exist -Because 'a killed CH leaves its socket'
        Join-Path $paths.RunDir 'vsock.sock' | Should -Exist
        { Get-MyVmStats -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotRunning*'
        $dead = Get-MyVm -Name 'chlife'
        $dead.Status | Should -Be 'Failed'
        $dead.StatusReason | Should -Match 'died unexpectedly'
        Assert-NothingLeft -Name 'chlife'
        Start-MyVm -Name 'chlife' -ErrorAction Stop
        (Get-MyVm -Name 'chlife').Status | Should -Be 'Running'
        Stop-MyVm -Name 'chlife' -Force -ErrorAction Stop
        Assert-NothingLeft -Name 'chlife'
    }
}

Describe 'The stand-in''s fault switches' {
    BeforeEach { Stop-ChRunning }

    It '<Fault>: VmStartFailed at <Step> saying <Says>, nothing left' -ForEach @(
        @{ Fault = 'refuse-boot'; Step = 'hypervisor-launch'; Says = 'vm.boot: HTTP 500: Error booting VM' }
        @{ Fault = 'hang-ping'; Step = 'hypervisor-launch'; Says = 'vmm.ping: no answer within 5 s' }
        @{ Fault = 'die-at-boot'; Step = 'hypervisor-launch'; Says = 'exited during vm.boot' }
        @{ Fault = 'error-500:vm.create'; Step = 'hypervisor-launch'; Says = 'vm.create: HTTP 500: Error on vm.create' }
        @{ Fault = 'error-500:vm.info'; Step = 'api-ready'; Says = 'vm.info: HTTP 500: Error on vm.info' }
    ) {
        $env:CH_STAND_IN_FAULTS = $Fault
        try { $failure = { Start-MyVm -Name 'chlife' -ErrorAction Stop } | Should -Throw -ErrorId 'VmStartFailed*' -PassThru }
        finally { Remove-Item Env:CH_STAND_IN_FAULTS }
        $failure.Exception.Message | Should -Match "at step '$Step'"
        $failure.Exception.Message | Should -Match ([regex]::Escape($Says))
        Assert-NothingLeft -Name 'chlife'
    }
}

Describe 'The real cloud-hypervisor' {
    BeforeEach { Stop-ChRunning }

    It 'runs the same lifecycle on the real binary with KVM' {
        Skip-UnlessPrerequisite -NotInstallable -Name 'cloud-hypervisor' -Condition $realCh
        $env:PATH = $savedPath
        try {
            $null = New-ChVm -Name 'chreal'
            Test-Lifecycle -Name 'chreal'
        }
        finally { $env:PATH = "${standIn}:$savedPath" }
    }
}
