# Part of MyHvTestKit.psm1: the VM fixture. Where a VM's files are, a VM created and started and
# waited for, its residue after a run, overlay pins that prove a file was never replaced, and the
# teardown every suite ends with.

# Every start step in transaction order (network and volumes only fire for VMs that use them).
$script:AllSteps = @('storage', 'runtime-dir', 'network', 'volumes', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit')
# Steps whose fail point fires before QEMU ever opened the disk: the overlay must be byte-identical.
$script:BeforeLaunchSteps = @('storage', 'runtime-dir', 'network', 'volumes', 'guest-channel', 'guest-agent')

function Get-MyHvStartStep {
    <# The steps a VM's start runs, in order: all of them, less network/volumes when not used. #>
    [CmdletBinding()]
    param([switch] $Network, [switch] $Volumes)
    $script:AllSteps | Where-Object { ($_ -ne 'network' -or $Network) -and ($_ -ne 'volumes' -or $Volumes) }
}

function Test-MyHvBeforeLaunch {
    <# True for a start step whose fail point fires before QEMU opened the disk. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Step)
    $Step -in $script:BeforeLaunchSteps
}

function Get-MyHvVmPath {
    <# Where the module keeps one VM's files under a home. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $vmDir = Join-Path $HomePath "vms/$Name"
    $runDir = Join-Path $HomePath "run/$Name"
    [pscustomobject]@{
        VmDir         = $vmDir
        Overlay       = Join-Path $vmDir 'disk.qcow2'
        State         = Join-Path $vmDir 'state.json'
        Journal       = Join-Path $vmDir 'start.journal'
        Console       = Join-Path $vmDir 'console.log'
        RunDir        = $runDir
        ApiSocket     = Join-Path $runDir 'api.sock'
        ChannelSocket = Join-Path $runDir 'channel.sock'
        ConsoleSocket = Join-Path $runDir 'console.sock'
        AgentSocket   = Join-Path $runDir 'agent.sock'
        PidFile       = Join-Path $runDir 'hypervisor.pid'
        Marker        = "$runDir/"
    }
}

function Get-MyHvRecordedState {
    <# state.json as it is on disk (read directly: no module command, so nothing reconciles first); $null when absent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $file = (Get-MyHvVmPath -HomePath $HomePath -Name $Name).State
    if (-not (Test-Path -LiteralPath $file)) { return $null }
    Get-Content -Raw -LiteralPath $file | ConvertFrom-Json
}

function New-MyHvTestVm {
    <#
    .SYNOPSIS
        The fixture's VM: New-MyVm (the module's default image and size unless told); with -Start also
        Start-MyVm, with -WaitReady until the guest reports ready; with -RanOnce started and stopped
        again, so its overlay holds data from an earlier run. Returns what New-MyVm (or, started,
        Start-MyVm -PassThru) returned.
    .PARAMETER Parameters
        More New-MyVm parameters (e.g. @{ Network = 'None'; Volume = @{ Path = $share; Tag = 'data' } }).
    .EXAMPLE
        $vm = New-MyHvTestVm -Name 'web' -Image tiny -MemoryMiB 128 -Start -WaitReady
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [string] $Image,
        [int] $MemoryMiB,
        [hashtable] $Parameters = @{},
        [switch] $Start,
        [switch] $WaitReady,
        [switch] $RanOnce,
        [int] $TimeoutSeconds = 180
    )
    $create = @{} + $Parameters
    if ($Image) { $create.Image = $Image }
    if ($MemoryMiB) { $create.MemoryMiB = $MemoryMiB }
    $vm = New-MyVm -Name $Name @create -ErrorAction Stop
    if ($RanOnce) {
        Start-MyVm -Name $Name -ErrorAction Stop
        Stop-MyVm -Name $Name -Force -ErrorAction Stop
        return Get-MyVm -Name $Name -ErrorAction Stop
    }
    if (-not ($Start -or $WaitReady)) { return $vm }
    $wait = if ($WaitReady) { @{ Wait = $true; TimeoutSeconds = $TimeoutSeconds } } else { @{} }
    Start-MyVm -Name $Name -PassThru -ErrorAction Stop @wait
}

function Wait-MyHvStatus {
    <# Polls Get-MyVm until the VM has the status; returns it (throws naming the status it has after -TimeoutSeconds). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Status, [int] $TimeoutSeconds = 60)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    do {
        $vm = Get-MyVm -Name $Name -ErrorAction Stop
        if ("$($vm.Status)" -eq $Status) { return $vm }
        Start-Sleep -Milliseconds 200
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "VM '$Name' did not reach status $Status within $TimeoutSeconds s (it is $($vm.Status))"
}

function Get-MyHvVerboseLine {
    <#
    .SYNOPSIS
        The messages of the VerboseRecords in a merged (4>&1) output, without the "VM '<name>': "
        prefix the cmdlets may put before Core's narration, and trimmed.
    #>
    [CmdletBinding()]
    param([object[]] $Output)
    @($Output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } |
            ForEach-Object { ($_.Message -replace "^VM '[^']+': ", '').Trim() })
}

function New-MyHvOverlayPin {
    <#
    .SYNOPSIS
        Pins a VM's existing overlay with a hard link outside the VM's folder and records its hash.
    .DESCRIPTION
        While the pin exists the overlay's inode cannot be reused: if the module deleted and
        recreated disk.qcow2, the new file would have another inode and one link, not two.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $paths = Get-MyHvVmPath -HomePath $HomePath -Name $Name
    if (-not (Test-Path -LiteralPath $paths.Overlay -PathType Leaf)) { throw "precondition: $($paths.Overlay) does not exist" }
    $pinDir = Join-Path $HomePath 'pins'
    $null = New-Item -ItemType Directory -Path $pinDir -Force
    $pin = Join-Path $pinDir "$Name.qcow2"
    Remove-Item -LiteralPath $pin -Force -ErrorAction SilentlyContinue
    & ln -- $paths.Overlay $pin
    if ($LASTEXITCODE -ne 0) { throw "ln $($paths.Overlay) $pin failed" }
    [pscustomobject]@{
        Overlay = $paths.Overlay
        Pin     = $pin
        Inode   = (Get-MyHvFileIdentity -Path $pin).Inode
        Hash    = (Get-FileHash -LiteralPath $paths.Overlay -Algorithm SHA256).Hash
    }
}

function Get-MyHvOverlayProblem {
    <#
    .SYNOPSIS
        What is wrong with a pinned overlay now (empty when it is still the same, untouched file).
    .PARAMETER ByteIdentical
        Also require the same SHA-256 (for fail points before QEMU opened the disk).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $PinInfo, [switch] $ByteIdentical)
    $now = Get-MyHvFileIdentity -Path $PinInfo.Overlay
    if ($null -eq $now) { return "the overlay $($PinInfo.Overlay) was deleted" }
    if ($now.Inode -ne $PinInfo.Inode) { "the overlay was recreated (inode $($now.Inode), was $($PinInfo.Inode))" }
    if ($now.Links -ne 2) { "the overlay has $($now.Links) link(s); the pinned original has 2" }
    if ($ByteIdentical) {
        $hash = (Get-FileHash -LiteralPath $PinInfo.Overlay -Algorithm SHA256).Hash
        if ($hash -ne $PinInfo.Hash) { "the overlay's content changed (sha256 $hash, was $($PinInfo.Hash))" }
    }
}

function Remove-MyHvOverlayPin {
    [CmdletBinding()]
    param([Parameter(Mandatory)] $PinInfo)
    Remove-Item -LiteralPath $PinInfo.Pin -Force -ErrorAction SilentlyContinue
}

function Get-MyHvVmResidue {
    <#
    .SYNOPSIS
        Everything of one VM's run that still exists, one line each (empty when nothing is left).
    .DESCRIPTION
        The leak census of the home (Get-MyHvLeftover) plus the VM's own runtime folder, pid file,
        sockets, start journal and any process carrying its runtime folder on its command line.
        -SkipNetDevices when the census runs in another network namespace than the VM's.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [switch] $SkipNetDevices)
    $paths = Get-MyHvVmPath -HomePath $HomePath -Name $Name
    $found = [System.Collections.Generic.List[string]]::new()
    foreach ($line in @(Get-MyHvLeftover -HomePath $HomePath)) {
        if ($SkipNetDevices -and $line -like 'network device *') { continue }
        $found.Add($line)
    }
    if (Test-Path -LiteralPath $paths.RunDir) { $found.Add("runtime folder $($paths.RunDir)") }
    foreach ($file in $paths.PidFile, $paths.ApiSocket, $paths.ChannelSocket) {
        if (Test-Path -LiteralPath $file) { $found.Add("runtime file $file") }
    }
    if (Test-Path -LiteralPath $paths.Journal) { $found.Add("start journal $($paths.Journal)") }
    foreach ($p in @(Get-MyHvProcess -Text $paths.Marker)) { $found.Add("process $($p.Pid) ($($p.Program)) of the VM") }
    $found.ToArray() | Select-Object -Unique
}

function Initialize-MyHvStoppedVm {
    <#
    .SYNOPSIS
        A test's precondition (Pester assertions): the VM exists and is not running (stopped with
        -Force if it was), it has an overlay from an earlier run, and nothing of a run is left.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $vm = Get-MyVm -Name $Name -ErrorAction Stop
    if ($vm.Status -eq 'Running') { Stop-MyVm -Name $Name -Force -ErrorAction Stop }
    (Get-MyVm -Name $Name -ErrorAction Stop).Status | Should -BeIn @('Stopped', 'Failed') -Because 'precondition: the VM is not running'
    (Get-MyHvVmPath -HomePath $HomePath -Name $Name).Overlay | Should -Exist -Because 'precondition: the VM has an overlay from an earlier run'
    @(Get-MyHvVmResidue -HomePath $HomePath -Name $Name) | Should -BeNullOrEmpty -Because 'precondition: nothing of an earlier run is left'
}

function Assert-MyHvPlainStartWorks {
    <#
    .SYNOPSIS
        Pester assertions: a plain Start-MyVm succeeds with a live QEMU that is the VM's recorded
        pid; then Stop-MyVm -Force stops it and nothing of the run is left.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $started = Start-MyVm -Name $Name -PassThru -ErrorAction Stop
    $started.Status | Should -Be 'Running'
    $vm = Get-MyVm -Name $Name -ErrorAction Stop
    $vm.Status | Should -Be 'Running'
    $qemu = @(Get-MyHvProcess -Text (Get-MyHvVmPath -HomePath $HomePath -Name $Name).Marker | Where-Object Program -EQ 'qemu-system-x86_64')
    $qemu.Pid | Should -Be $vm.Pid -Because 'exactly one QEMU runs for the VM, the one it records'
    Stop-MyVm -Name $Name -Force -ErrorAction Stop
    (Get-MyVm -Name $Name -ErrorAction Stop).Status | Should -Be 'Stopped'
    @(Get-MyHvVmResidue -HomePath $HomePath -Name $Name) | Should -BeNullOrEmpty
}

function Initialize-MyHvBridgedVm {
    <#
    .SYNOPSIS
        A bridged VM created, run once (so its overlay exists) and stopped, all inside a network
        namespace by a child pwsh; throws unless it ran with its TAP device there and the stop
        removed it. Returns the TAP device's name.
    .PARAMETER CreateNamespace
        Makes the namespace first (New-MyHvTestNamespace, with the bridge and no address on it).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $HomePath,
        [Parameter(Mandatory)] [Alias('Netns')] [string] $Namespace,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $IPAddress,
        [string] $Bridge = 'txbr0',
        [switch] $CreateNamespace
    )
    if ($CreateNamespace) { $null = New-MyHvTestNamespace -Name $Namespace -Bridge $Bridge -Address '' }
    $setup = Invoke-MyHvChild -Namespace $Namespace -Environment @{ MYHV_HOME = $HomePath; TX_VM = $Name; TX_IP = $IPAddress; TX_BR = $Bridge } -ScriptBlock {
        $null = New-MyVm -Name $env:TX_VM -Network Bridge -Bridge $env:TX_BR -IPAddress $env:TX_IP
        Start-MyVm -Name $env:TX_VM -ErrorAction Stop
        $vm = Get-MyVm -Name $env:TX_VM
        $tapWhileRunning = Test-Path "/sys/class/net/$($vm.TapDevice)"
        Stop-MyVm -Name $env:TX_VM -Force -ErrorAction Stop
        @{ Status = "$($vm.Status)"; Tap = $vm.TapDevice; TapWhileRunning = $tapWhileRunning; TapAfterStop = (Test-Path "/sys/class/net/$($vm.TapDevice)") }
    }
    if (-not $setup.Result -or $setup.Result.Status -ne 'Running' -or -not $setup.Result.TapWhileRunning -or $setup.Result.TapAfterStop) {
        throw "precondition: the bridged VM did not run with its TAP device in the namespace:`n$($setup.Output -join "`n")`n$($setup.Result | ConvertTo-Json)"
    }
    $setup.Result.Tap
}

function Assert-MyHvVmDied {
    <# Pester assertions: Get-MyVm reports the VM Failed because its hypervisor died unexpectedly. Returns what Get-MyVm returned. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    $after = Get-MyVm -Name $Name
    $after.Status | Should -Be 'Failed'
    $after.StatusReason | Should -Match 'died unexpectedly'
    $after
}

function Assert-MyHvNoVirtiofsd {
    <# Pester assertions: no virtiofsd process names the home, and no virtiofsd lock file of it is left. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath)
    @(Get-MyHvProcess -Text $HomePath | Where-Object Program -EQ 'virtiofsd') | Should -BeNullOrEmpty
    @(Get-MyHvVirtiofsdLockFile -HomePath $HomePath) | Should -BeNullOrEmpty
}

function Complete-MyHvTestSuite {
    <#
    .SYNOPSIS
        A suite's usual AfterAll: clears MYHV_FAILPOINTS, waits for and removes the module's jobs,
        removes every VM of the home (running or not), then runs the leak census (throws on a leftover).
    .PARAMETER Namespace
        A namespace of New-MyHvTestNamespace: its VMs (-NamespaceVm; their TAP devices live there) are
        removed from inside it by a child pwsh, then it is deleted, before the rest.
    .PARAMETER CensusOnly
        Removes no VM: the suite's VMs must already be gone (the census then fails on what is left).
    .PARAMETER RemoveHome
        Also deletes the home folder once the census found it clean.
    .EXAMPLE
        AfterAll { Complete-MyHvTestSuite -HomePath $script:testHome }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [Alias('Home')] [AllowEmptyString()] [AllowNull()] [string] $HomePath,
        [Alias('Netns')] [string] $Namespace,
        [Alias('NetVm')] [string[]] $NamespaceVm,
        [switch] $CensusOnly,
        [switch] $RemoveHome
    )
    Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    if ($Namespace) {
        if ($NamespaceVm -and $HomePath) {
            $null = Invoke-MyHvChild -Namespace $Namespace -Environment @{ MYHV_HOME = $HomePath; TX_VMS = ($NamespaceVm -join ',') } -ScriptBlock {
                foreach ($vmName in $env:TX_VMS.Split(',')) { Get-MyVm -Name $vmName -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false }
                $true
            }
        }
        Remove-MyHvTestNamespace -Name $Namespace
    }
    if (-not $HomePath) { return }   # BeforeAll failed before it made a home: nothing of ours exists
    if (-not $CensusOnly -and (Get-Command -Name Get-MyVm -ErrorAction Ignore)) {
        Get-Job -ErrorAction Ignore | Where-Object PSJobTypeName -EQ 'MyVmJob' | ForEach-Object {
            $null = Wait-Job -Job $_ -Timeout 120; Remove-Job -Job $_ -Force
        }
        # The VMs of the home in use (as the suite left it) and of THIS home, when the suite moved on to another.
        $savedHome = $env:MYHV_HOME
        try {
            foreach ($vmHome in @($savedHome, $HomePath) | Where-Object { $_ } | Select-Object -Unique) {
                $env:MYHV_HOME = $vmHome
                Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
            }
        }
        finally { $env:MYHV_HOME = $savedHome }
    }
    Assert-MyHvNoLeftovers -HomePath $HomePath
    if ($RemoveHome) { Remove-Item -LiteralPath $HomePath -Recurse -Force -ErrorAction SilentlyContinue }
}

function Invoke-MyHvPinnedOverlay {
    <#
    .SYNOPSIS
        Pins a VM's overlay (New-MyHvOverlayPin), runs -ScriptBlock (in the caller's scope, given the pin),
        then asserts the overlay is still the same, untouched file (byte-identical with -ByteIdentical),
        and always removes the pin.
    .EXAMPLE
        Invoke-MyHvPinnedOverlay -HomePath $vmHome -Name 'a' -ByteIdentical -ScriptBlock { param($pin) Start-MyVm -Name 'a' -ErrorAction SilentlyContinue }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $HomePath,
        [Parameter(Mandatory)] [string] $Name,
        [switch] $ByteIdentical,
        [Parameter(Mandatory)] [scriptblock] $ScriptBlock
    )
    $pin = New-MyHvOverlayPin -HomePath $HomePath -Name $Name
    try {
        $null = & $ScriptBlock $pin
        @(Get-MyHvOverlayProblem -PinInfo $pin -ByteIdentical:$ByteIdentical) | Should -BeNullOrEmpty
    }
    finally { Remove-MyHvOverlayPin -PinInfo $pin }
}
