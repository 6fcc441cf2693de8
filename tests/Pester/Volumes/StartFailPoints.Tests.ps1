<#
Issue 5, fail points of the new start steps on a VM with a volume: start.volumes (after virtiofsd,
its socket and its lock file exist) and start.guest-channel (after those and the channel record).
'error': the attempt fails with VmStartFailed naming the step and rolls back everything it made.
'kill': Start-MyVm runs in a child pwsh that SIGKILLs itself at the point; the next Get-MyVm, in
another process (this one), rolls the attempt back. Either way nothing of the VM remains
(virtiofsd processes, sockets, lock files, runtime dir, journal, the attempt's disk) and the next
start succeeds. (start.network, which needs a bridge, is in tests/Pester/Network/BridgeNetwork.Tests.ps1.)
#>

BeforeDiscovery {
    $script:cases = @(
        @{ Point = 'start.volumes'; Step = 'volumes'; Vm = 'fpvole'; Action = 'error' }
        @{ Point = 'start.guest-channel'; Step = 'guest-channel'; Vm = 'fpchane'; Action = 'error' }
    )
    $script:killCases = @(
        @{ Point = 'start.volumes'; Step = 'volumes'; Vm = 'fpvolk' }
        @{ Point = 'start.guest-channel'; Step = 'guest-channel'; Vm = 'fpchank' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $env:MYHV_FAILPOINTS = $null

    $script:share = New-MyHvTestDir -Prefix 'mhS'

    function Get-VmSocket([string] $Vm) { Join-Path $script:testHome "run/$Vm/fs-data.sock" }

    # Nothing of the VM's start attempt is left: no helper, socket, lock file, runtime dir, journal or new disk.
    function Assert-AttemptGone([string] $Vm) {
        @(Get-MyHvVirtiofsd -SocketPath (Get-VmSocket $Vm)) | Should -BeNullOrEmpty
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome) | Should -BeNullOrEmpty
        @(Get-MyHvSocketFile -Path $script:testHome) | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:testHome "run/$Vm") | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:testHome "vms/$Vm/start.journal") | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:testHome "vms/$Vm/disk.qcow2") | Should -BeFalse
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }

    # The next start works: Running with a live virtiofsd; its stop leaves nothing.
    function Assert-NextStartWorks([string] $Vm) {
        $next = Start-MyVm -Name $Vm -PassThru -ErrorAction Stop
        $next.Status | Should -Be 'Running'
        @(Get-MyHvVirtiofsd -SocketPath (Get-VmSocket $Vm)).Count | Should -BeGreaterThan 0
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome).Count | Should -Be 1
        Test-Path -LiteralPath (Join-Path $script:testHome "run/$Vm/channel.sock") | Should -BeTrue
        (Stop-MyVm -Name $Vm -Force -PassThru).Status | Should -Be 'Stopped'
        @(Get-MyHvVirtiofsd -SocketPath (Get-VmSocket $Vm)) | Should -BeNullOrEmpty
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }
}

AfterAll {
    $env:MYHV_FAILPOINTS = $null
    Complete-MyHvTestSuite -HomePath $script:testHome
    if ($script:share) { Remove-Item -LiteralPath $script:share -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Fail point <Point>=error' -ForEach $script:cases {
    It 'fails the start with VmStartFailed naming the step, removes virtiofsd, socket and lock file; the next start succeeds' {
        New-MyVm -Name $Vm -Network None -Volume @{ Path = $script:share; Tag = 'data' } | Out-Null
        $narration = $null
        $err = $null
        $env:MYHV_FAILPOINTS = "$Point=error"
        try { $narration = @(Start-MyVm -Name $Vm -Verbose -ErrorAction Stop 4>&1 | ForEach-Object { "$_" }) }
        catch { $err = $_ }
        finally { $env:MYHV_FAILPOINTS = $null }

        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'VmStartFailed*'
        "$err" | Should -Match "step '$Step'"
        "$err" | Should -Match "fail point '$Point'"
        $vm = Get-MyVm -Name $Vm
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match "step '$Step'"
        Assert-AttemptGone $Vm
        Assert-NextStartWorks $Vm
    }
}

Describe 'Fail point <Point>=kill' -ForEach $script:killCases {
    It 'kills the starting process with virtiofsd running; the next Get-MyVm (another process) rolls it all back; the next start succeeds' {
        $killed = Invoke-MyHvChild -Environment @{ MYHV_FAILPOINTS = "$Point=kill" } -Body @"
New-MyVm -Name '$Vm' -Network None -Volume @{ Path = '$($script:share)'; Tag = 'data' } | Out-Null
'MHSTEP created'
Start-MyVm -Name '$Vm'
`$r.Survived = `$true
"@
        $killed.Result | Should -BeNullOrEmpty -Because "the child must die at the fail point: $($killed.Output -join "`n")"
        $killed.ExitCode | Should -Not -Be 0
        $killed.Output | Should -Contain 'MHSTEP created'

        # The kill came after the step's artifacts existed, and nothing has cleaned up yet.
        $socket = Get-VmSocket $Vm
        @(Get-MyHvVirtiofsd -SocketPath $socket).Count | Should -BeGreaterThan 0
        Test-Path -LiteralPath $socket | Should -BeTrue
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome).Count | Should -Be 1
        Test-Path -LiteralPath (Join-Path $script:testHome "vms/$Vm/start.journal") | Should -BeTrue

        $vm = Get-MyVm -Name $Vm
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match "interrupted at step '$Step'"
        Assert-AttemptGone $Vm
        Assert-NextStartWorks $Vm
    }
}
