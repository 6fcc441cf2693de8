<#
Helpers shared by the suites in tests/Pester/Transactions (issue 4: transactional start, crash
recovery, liveness). Import from a suite's BeforeAll, after TestHelpers.psm1:

    Import-Module (Join-Path $PSScriptRoot 'TransactionSupport.psm1') -Force

Everything here reads reality (/proc, /sys, the file system), never the module's own records,
so a suite can check what the module claims against what is really there.
#>

Set-StrictMode -Version 3.0

$script:RepoRoot = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
$script:ChildWrapper = Join-Path $PSScriptRoot 'TxChild.ps1'

# Every start step in transaction order (network and volumes only fire for VMs that use them).
$script:AllSteps = @('storage', 'runtime-dir', 'network', 'volumes', 'guest-channel', 'guest-agent', 'hypervisor-launch', 'api-ready', 'commit')
# Steps whose fail point fires before QEMU ever opened the disk: the overlay must be byte-identical.
$script:BeforeLaunchSteps = @('storage', 'runtime-dir', 'network', 'volumes', 'guest-channel', 'guest-agent')

function Get-TxStartStep {
    <# The steps a VM's start runs, in order: all of them, less network/volumes when not used. #>
    param([switch] $Network, [switch] $Volumes)
    $script:AllSteps | Where-Object { ($_ -ne 'network' -or $Network) -and ($_ -ne 'volumes' -or $Volumes) }
}

function Test-TxBeforeLaunch {
    param([Parameter(Mandatory)] [string] $Step)
    $Step -in $script:BeforeLaunchSteps
}

function Get-TxVmPath {
    <# Where the module keeps one VM's files (the layout in the helper brief). #>
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
        PidFile       = Join-Path $runDir 'hypervisor.pid'
        Marker        = "$runDir/"
    }
}

function Get-TxProcess {
    <#
    .SYNOPSIS
        Live (non-zombie) processes whose command line contains -Needle, from /proc.
    .OUTPUTS
        [pscustomobject] Pid, Program (file name of /proc/<pid>/exe), CommandLine.
    #>
    param([Parameter(Mandatory)] [string] $Needle)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try {
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd()
            if (-not $cmd.Contains($Needle)) { continue }
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
            $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
            if ($state -in 'Z', 'X') { continue }
            $exe = try { [System.IO.Path]::GetFileName((Get-Item -LiteralPath "$dir/exe" -Force -ErrorAction Stop).Target) } catch { '?' }
            [pscustomobject]@{ Pid = $procId; Program = $exe; CommandLine = $cmd }
        }
        catch { continue }   # the process ended while we looked
    }
}

function Test-TxProcessAlive {
    <#
    .SYNOPSIS
        True while the pid exists and is not a zombie whose threads have all exited.
    .DESCRIPTION
        A thread-group leader turns 'Z' when its own thread exits, while the process's other
        threads (of a SIGKILLed QEMU, say) may still be tearing down and holding its sockets:
        only when no other thread is left is the process really gone.
    #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    try {
        $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
        if ($stat.Substring($stat.LastIndexOf(')') + 2, 1) -notin 'Z', 'X') { return $true }
        @([System.IO.Directory]::GetDirectories("/proc/$ProcessId/task")).Count -gt 1
    }
    catch { $false }
}

function Get-TxStartTicks {
    <# Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
    [uint64] ($stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[22 - 3])
}

function Stop-TxProcess {
    <# SIGKILL, then waits until the pid is gone or a zombie. #>
    param([Parameter(Mandatory)] [int] $ProcessId, [int] $TimeoutSeconds = 30)
    & /bin/kill -KILL $ProcessId 2>$null
    Wait-TxCondition -TimeoutSeconds $TimeoutSeconds -Because "pid $ProcessId to die after SIGKILL" -Condition {
        -not (Test-TxProcessAlive -ProcessId $ProcessId)
    }.GetNewClosure()
}

function Wait-TxCondition {
    <# Polls a condition every 100 ms; throws naming -Because when it is not met in time. #>
    param(
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [int] $TimeoutSeconds = 60,
        [string] $Because = 'a condition'
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        if (& $Condition) { return }
        if ([DateTime]::UtcNow -ge $deadline) { throw "Timed out after $TimeoutSeconds s waiting for $Because" }
        Start-Sleep -Milliseconds 100
    }
}

function Get-TxFileIdentity {
    <# Inode and hard-link count of a file (stat -c), or $null when it does not exist. #>
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $fields = (& stat -c '%i %h' -- $Path).Split(' ')
    [pscustomobject]@{ Inode = [uint64] $fields[0]; Links = [int] $fields[1] }
}

function New-TxOverlayPin {
    <#
    .SYNOPSIS
        Pins a VM's existing overlay with a hard link outside the VM's folder and records its hash.
    .DESCRIPTION
        While the pin exists the overlay's inode cannot be reused: if the module deleted and
        recreated disk.qcow2, the new file would have another inode and one link, not two.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $paths = Get-TxVmPath -HomePath $HomePath -Name $Name
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
        Inode   = (Get-TxFileIdentity -Path $pin).Inode
        Hash    = (Get-FileHash -LiteralPath $paths.Overlay -Algorithm SHA256).Hash
    }
}

function Get-TxOverlayProblem {
    <#
    .SYNOPSIS
        What is wrong with a pinned overlay now (empty when it is still the same, untouched file).
    .PARAMETER ByteIdentical
        Also require the same SHA-256 (for fail points before QEMU opened the disk).
    #>
    param([Parameter(Mandatory)] $PinInfo, [switch] $ByteIdentical)
    $now = Get-TxFileIdentity -Path $PinInfo.Overlay
    if ($null -eq $now) { return "the overlay $($PinInfo.Overlay) was deleted" }
    if ($now.Inode -ne $PinInfo.Inode) { "the overlay was recreated (inode $($now.Inode), was $($PinInfo.Inode))" }
    if ($now.Links -ne 2) { "the overlay has $($now.Links) link(s); the pinned original has 2" }
    if ($ByteIdentical) {
        $hash = (Get-FileHash -LiteralPath $PinInfo.Overlay -Algorithm SHA256).Hash
        if ($hash -ne $PinInfo.Hash) { "the overlay's content changed (sha256 $hash, was $($PinInfo.Hash))" }
    }
}

function Remove-TxOverlayPin {
    param([Parameter(Mandatory)] $PinInfo)
    Remove-Item -LiteralPath $PinInfo.Pin -Force -ErrorAction SilentlyContinue
}

function Get-TxVirtiofsdLockFile {
    <# virtiofsd pid lock files under /run/virtiofsd that belong to a home ('/' written as '.'). #>
    param([Parameter(Mandatory)] [string] $HomePath)
    $needle = $HomePath.TrimEnd('/').Replace('/', '.')
    @(Get-ChildItem -LiteralPath '/run/virtiofsd' -File -Force -ErrorAction SilentlyContinue |
            Where-Object { $_.Name.Contains($needle) } | ForEach-Object FullName)
}

function Get-TxVmResidue {
    <#
    .SYNOPSIS
        Everything of one VM's run that still exists, one line each (empty when nothing is left).
    .DESCRIPTION
        The census of TestHelpers (processes naming the home, sockets, mounts, virtiofsd lock
        files, new mh* devices) plus the VM's own runtime folder, pid file, sockets, start
        journal and any process carrying its runtime folder on its command line.
        -SkipNetDevices when the census runs in another network namespace than the VM's.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [switch] $SkipNetDevices)
    $paths = Get-TxVmPath -HomePath $HomePath -Name $Name
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
    foreach ($p in @(Get-TxProcess -Needle $paths.Marker)) { $found.Add("process $($p.Pid) ($($p.Program)) of the VM") }
    foreach ($lock in Get-TxVirtiofsdLockFile -HomePath $HomePath) { $found.Add("virtiofsd lock $lock") }
    $found.ToArray() | Select-Object -Unique
}

function Initialize-TxStoppedVm {
    <#
    .SYNOPSIS
        A test's precondition (Pester assertions): the VM exists and is not running (stopped with
        -Force if it was), it has an overlay from an earlier run, and nothing of a run is left.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $vm = Get-MyVm -Name $Name -ErrorAction Stop
    if ($vm.Status -eq 'Running') { Stop-MyVm -Name $Name -Force -ErrorAction Stop }
    (Get-MyVm -Name $Name -ErrorAction Stop).Status | Should -BeIn @('Stopped', 'Failed') -Because 'precondition: the VM is not running'
    (Get-TxVmPath -HomePath $HomePath -Name $Name).Overlay | Should -Exist -Because 'precondition: the VM has an overlay from an earlier run'
    @(Get-TxVmResidue -HomePath $HomePath -Name $Name) | Should -BeNullOrEmpty -Because 'precondition: nothing of an earlier run is left'
}

function Assert-TxPlainStartWorks {
    <#
    .SYNOPSIS
        Pester assertions: a plain Start-MyVm succeeds with a live QEMU that is the VM's recorded
        pid; then Stop-MyVm -Force stops it and nothing of the run is left.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $started = Start-MyVm -Name $Name -PassThru -ErrorAction Stop
    $started.Status | Should -Be 'Running'
    $vm = Get-MyVm -Name $Name -ErrorAction Stop
    $vm.Status | Should -Be 'Running'
    $qemu = @(Get-TxProcess -Needle (Get-TxVmPath -HomePath $HomePath -Name $Name).Marker | Where-Object Program -EQ 'qemu-system-x86_64')
    $qemu.Pid | Should -Be $vm.Pid -Because 'exactly one QEMU runs for the VM, the one it records'
    Stop-MyVm -Name $Name -Force -ErrorAction Stop
    (Get-MyVm -Name $Name -ErrorAction Stop).Status | Should -Be 'Stopped'
    @(Get-TxVmResidue -HomePath $HomePath -Name $Name) | Should -BeNullOrEmpty
}

function Get-TxVerboseLine {
    <#
    .SYNOPSIS
        The messages of the VerboseRecords in a merged (4>&1) output, without the "VM '<name>': "
        prefix the cmdlets may put before Core's narration, and trimmed.
    #>
    param([object[]] $Output)
    @($Output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } |
            ForEach-Object { ($_.Message -replace "^VM '[^']+': ", '').Trim() })
}

function Start-TxChild {
    <#
    .SYNOPSIS
        Starts a script block in a child pwsh like Invoke-TxChild, but returns at once with the
        [System.Diagnostics.Process] (no timeout wrapper: the child is the caller's to end).
        The scenario file stays in -WorkDir, which the caller removes.
    #>
    param(
        [Parameter(Mandatory)] [scriptblock] $ScriptBlock,
        [Parameter(Mandatory)] [string] $WorkDir,
        [hashtable] $Environment = @{}
    )
    $scriptPath = Join-Path $WorkDir 'scenario.ps1'
    [System.IO.File]::WriteAllText($scriptPath, $ScriptBlock.ToString())
    Start-MyHvPwsh -File $script:ChildWrapper -ArgumentList '-ScriptPath', $scriptPath, '-ResultPath', (Join-Path $WorkDir 'result.json') `
        -WorkingDirectory $script:RepoRoot -Environment $Environment
}

function Invoke-TxChild {
    <#
    .SYNOPSIS
        Runs a script block in a fresh child pwsh (Start-MyHvPwsh), optionally inside a
        network namespace, with extra environment variables; returns its exit code, its output
        lines and the JSON it returned (parsed), if it got that far.
    .DESCRIPTION
        The child imports the built module (out/MyHypervisor) and TestHelpers/TransactionSupport,
        runs the script block's text and writes what it returned as JSON. A child that dies (a
        'kill' fail point) writes no result: Result is $null and ExitCode tells how it ended.
    #>
    param(
        [Parameter(Mandatory)] [scriptblock] $ScriptBlock,
        [hashtable] $Environment = @{},
        [string] $Netns,
        [int] $TimeoutSeconds = 240
    )
    $work = Join-Path ([System.IO.Path]::GetTempPath()) ("mhtxc-" + [guid]::NewGuid().ToString('N').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $work
    try {
        $scriptPath = Join-Path $work 'scenario.ps1'
        $resultPath = Join-Path $work 'result.json'
        [System.IO.File]::WriteAllText($scriptPath, $ScriptBlock.ToString())
        $wrapper = if ($Netns) { @('ip', 'netns', 'exec', $Netns) } else { @() }
        $child = Start-MyHvPwsh -File $script:ChildWrapper -ArgumentList '-ScriptPath', $scriptPath, '-ResultPath', $resultPath `
            -WorkingDirectory $script:RepoRoot -Environment $Environment -Wrapper $wrapper
        $done = Wait-MyHvPwsh -Process $child -TimeoutSeconds $TimeoutSeconds
        $code = $done.ExitCode
        $output = @(($done.Stdout + $done.Stderr) -split '\r?\n' | Where-Object { $_ -ne '' })
        $result = if (Test-Path -LiteralPath $resultPath) { Get-Content -Raw -LiteralPath $resultPath | ConvertFrom-Json } else { $null }
        [pscustomobject]@{ ExitCode = $code; Output = $output; Result = $result }
    }
    finally {
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Initialize-TxBridgedVm {
    <#
    .SYNOPSIS
        A bridged VM (bridge txbr0) created, run once (so its overlay exists) and stopped, all inside a
        network namespace by a child pwsh; throws unless it ran with its TAP device there and the stop
        removed it. Returns the TAP device's name.
    #>
    param(
        [Parameter(Mandatory)] [string] $HomePath,
        [Parameter(Mandatory)] [string] $Netns,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $IPAddress
    )
    $setup = Invoke-TxChild -Netns $Netns -Environment @{ MYHV_HOME = $HomePath; TX_VM = $Name; TX_IP = $IPAddress } -ScriptBlock {
        $null = New-MyVm -Name $env:TX_VM -Network Bridge -Bridge txbr0 -IPAddress $env:TX_IP
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

function Remove-TxSuiteState {
    <#
    .SYNOPSIS
        A suite's AfterAll: clears MYHV_FAILPOINTS; the bridged VM -NetVm goes from inside its namespace
        (its TAP device lives there), then the namespace; then every VM, the census, and the home.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [string] $Netns, [string] $NetVm)
    Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    if ($Netns) {
        $null = Invoke-TxChild -Netns $Netns -Environment @{ MYHV_HOME = $HomePath; TX_VM = $NetVm } -ScriptBlock {
            Get-MyVm -Name $env:TX_VM -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false
            $true
        }
        Remove-TxNetns -Name $Netns
    }
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    Assert-MyHvNoLeftovers -Home $HomePath
    Remove-Item -LiteralPath $HomePath -Recurse -Force -ErrorAction SilentlyContinue
}

function New-TxNetns {
    <#
    .SYNOPSIS
        A fresh network namespace with lo up and a bridge (for bridged VMs); returns its name.
        The host's own interfaces are never touched. Remove it with Remove-TxNetns.
    #>
    param([Parameter(Mandatory)] [string] $Name, [string] $Bridge = 'txbr0')
    & ip netns add $Name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $Name failed (root and iproute2 are needed for the bridged tests)" }
    try {
        foreach ($cmd in @(@('link', 'set', 'lo', 'up'), @('link', 'add', $Bridge, 'type', 'bridge'), @('link', 'set', $Bridge, 'up'))) {
            & ip -n $Name @cmd
            if ($LASTEXITCODE -ne 0) { throw "ip -n $Name $($cmd -join ' ') failed" }
        }
    }
    catch {
        & ip netns del $Name 2>$null   # leave no half-made namespace behind
        throw
    }
    $Name
}

function Get-TxNetnsDevice {
    <# Network device names inside a namespace. #>
    param([Parameter(Mandatory)] [string] $Netns)
    @(& ip -n $Netns -o link show | ForEach-Object { ($_ -split ':\s+', 3)[1] -replace '@.*$', '' })
}

function Remove-TxNetns {
    param([Parameter(Mandatory)] [string] $Name)
    & ip netns del $Name 2>$null
}

function Send-TxQmp {
    <#
    .SYNOPSIS
        Sends one QMP command straight to a QEMU API socket, behind the module's back.
    .OUTPUTS
        The reply line (or $null when QEMU closed the connection first, as 'quit' may).
    #>
    param([Parameter(Mandatory)] [string] $Socket, [Parameter(Mandatory)] [string] $Command)
    $sock = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream,
        [System.Net.Sockets.ProtocolType]::Unspecified)
    try {
        $sock.ReceiveTimeout = 15000
        $sock.SendTimeout = 15000
        $sock.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($Socket))
        $stream = [System.Net.Sockets.NetworkStream]::new($sock, $false)
        $reader = [System.IO.StreamReader]::new($stream)
        $writer = [System.IO.StreamWriter]::new($stream)
        $writer.AutoFlush = $true
        $greeting = $reader.ReadLine()
        if ($greeting -notmatch '"QMP"') { throw "no QMP greeting on $Socket (got '$greeting')" }
        $writer.WriteLine('{"execute":"qmp_capabilities"}')
        $reply = $reader.ReadLine()
        if ($reply -notmatch '"return"') { throw "qmp_capabilities failed: $reply" }
        $writer.WriteLine((@{ execute = $Command } | ConvertTo-Json -Compress))
        while ($true) {
            $line = $reader.ReadLine()
            if ($null -eq $line) { return $null }
            if ($line -match '"(return|error)"') { return $line }
        }
    }
    finally { $sock.Dispose() }
}

Export-ModuleMember -Function Get-TxStartStep, Test-TxBeforeLaunch, Get-TxVmPath, Get-TxProcess, Test-TxProcessAlive,
    Get-TxStartTicks, Stop-TxProcess, Wait-TxCondition, Get-TxFileIdentity, New-TxOverlayPin, Get-TxOverlayProblem,
    Remove-TxOverlayPin, Get-TxVirtiofsdLockFile, Get-TxVmResidue, Initialize-TxStoppedVm, Assert-TxPlainStartWorks, Get-TxVerboseLine, Invoke-TxChild, Start-TxChild, Initialize-TxBridgedVm, Remove-TxSuiteState, New-TxNetns,
    Get-TxNetnsDevice, Remove-TxNetns, Send-TxQmp
