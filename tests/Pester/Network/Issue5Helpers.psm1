<#
Helpers for the networking, volume and guest-channel suites (tests/Pester/Network, tests/Pester/Volumes).
Not a suite (no .Tests.ps1). Import after TestHelpers.psm1:

    Import-Module "$PSScriptRoot/../Network/Issue5Helpers.psm1" -Force

Child processes: Invoke-MyHvChild runs a script body in a fresh pwsh (Start-MyHvPwsh) (optionally inside a
network namespace), with the built module imported and $r (an ordered hashtable) to fill in; the
child prints $r as one JSON line prefixed 'MHRESULT ', which comes back parsed as .Result.
#>

Set-StrictMode -Version 3.0

$script:ResultPrefix = 'MHRESULT '

function Invoke-MyHvChild {
    <#
    .SYNOPSIS
        Runs $Body in a child pwsh (Start-MyHvPwsh; cwd: repo root) and returns ExitCode, Output (lines) and Result.
    .DESCRIPTION
        The child inherits this process's environment (MYHV_HOME, MYHV_TEST_ROOT ...) plus -Environment
        (a value of $null removes the variable in the child). Inside the body: the built module is imported,
        $ErrorActionPreference is 'Stop', and $r is an ordered hashtable that is printed as JSON at the end,
        also when the body throws (then $r.Error and $r.ErrorId say what). A child that dies (SIGKILL)
        prints no result: .Result is $null. A child still running after -TimeoutSeconds is killed and
        the call throws.
        As another user: -Wrapper (e.g. setpriv ... --), -LaunchPrefix (a pwsh that user can read),
        -ScriptDirectory (where the script file goes, readable by it), -ModuleManifest and -HelpersPath
        (copies it can read).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Body,
        [string] $Namespace,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 240,
        [string[]] $Wrapper,
        [string[]] $LaunchPrefix,
        [string] $ScriptDirectory,
        [string] $ModuleManifest,
        [string] $HelpersPath
    )
    $root = Get-MyHvRepoRoot
    $manifest = if ($ModuleManifest) { $ModuleManifest } else { Join-Path $root 'out/MyHypervisor/MyHypervisor.psd1' }
    $helpers = if ($HelpersPath) { $HelpersPath } else { Join-Path $root 'tests/Pester/TestHelpers.psm1' }
    $script = @"
`$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
`$r = [ordered]@{}
try {
    Import-Module -Name '$manifest' -Force
    Import-Module -Name '$helpers' -Force
$Body
} catch {
    `$r.Error = "`$_"
    `$r.ErrorId = `$_.FullyQualifiedErrorId
    `$r.ErrorAt = `$_.InvocationInfo.PositionMessage
}
'$script:ResultPrefix' + (`$r | ConvertTo-Json -Compress -Depth 6)
"@
    $dir = if ($ScriptDirectory) { $ScriptDirectory }
    elseif ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT)) { $env:MYHV_TEST_ROOT } else { [System.IO.Path]::GetTempPath() }
    $file = Join-Path $dir ("child-{0}.ps1" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    Set-Content -LiteralPath $file -Value $script -Encoding utf8

    $childEnv = $Environment.Clone()
    $childEnv['NO_COLOR'] = '1'
    $wrapper = @(if ($Namespace) { 'ip', 'netns', 'exec', $Namespace }) + @($Wrapper | Where-Object { $_ })
    $workDir = if ($ScriptDirectory) { $ScriptDirectory } else { $root }
    $process = Start-MyHvPwsh -File $file -WorkingDirectory $workDir -Environment $childEnv -Wrapper $wrapper -LaunchPrefix $LaunchPrefix
    try {
        $done = Wait-MyHvPwsh -Process $process -TimeoutSeconds $TimeoutSeconds
        $lines = @(($done.Stdout + $done.Stderr) -split "`r?`n" | Where-Object { $_ -ne '' })
        $json = $lines | Where-Object { $_.StartsWith($script:ResultPrefix) } | Select-Object -Last 1
        [pscustomobject]@{
            ExitCode = $done.ExitCode
            Output   = $lines
            Result   = if ($json) { $json.Substring($script:ResultPrefix.Length) | ConvertFrom-Json } else { $null }
        }
    } finally {
        $process.Dispose()
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
    }
}

function Get-MyHvProcessByCommandLine {
    <#
    .SYNOPSIS
        Live processes (not zombies) whose command line contains $Text: Pid, ParentPid, Name, CommandLine.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Text, [string] $Name)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try {
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd()
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
        } catch { continue }
        if (-not $cmd.Contains($Text)) { continue }
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        if ($fields[0] -in 'Z', 'X') { continue }
        $exe = ($cmd -split ' ')[0]
        if ($Name -and [System.IO.Path]::GetFileName($exe) -ne $Name) { continue }
        [pscustomobject]@{ Pid = $procId; ParentPid = [int] $fields[1]; Name = [System.IO.Path]::GetFileName($exe); CommandLine = $cmd }
    }
}

function Get-MyHvVirtiofsd {
    <#
    .SYNOPSIS
        The virtiofsd processes serving a socket path (QEMU's C daemon runs as a parent and a sandboxed child).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $SocketPath)
    @(Get-MyHvProcessByCommandLine -Text "--socket-path=$SocketPath" -Name 'virtiofsd')
}

function Get-MyHvVirtiofsdLockFile {
    <#
    .SYNOPSIS
        Lock files under /run/virtiofsd of sockets below $HomePath ('/' written as '.').
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [Alias('Home')] [string] $HomePath)
    $needle = $HomePath.TrimEnd('/').Replace('/', '.') + '.'
    @(Get-ChildItem -LiteralPath '/run/virtiofsd' -File -Force -ErrorAction SilentlyContinue |
            Where-Object { $_.Name.StartsWith($needle) } | ForEach-Object FullName)
}

function Get-MyHvSocketFile {
    <#
    .SYNOPSIS
        Socket files below a folder (recursively).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) { return @() }
    @(& find $Path -type s 2>$null)
}

function Get-MyHvNamespaceDevice {
    <#
    .SYNOPSIS
        Names of the network devices in a network namespace whose name starts with $Prefix (default 'mh').
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Namespace, [string] $Prefix = 'mh')
    $lines = @(& ip -n $Namespace -o link show 2>$null)
    if ($LASTEXITCODE -ne 0) { throw "ip -n $Namespace link show failed (exit $LASTEXITCODE)" }
    @($lines | ForEach-Object { ($_ -split ':\s+')[1] -replace '@.*$', '' } | Where-Object { $_.StartsWith($Prefix) })
}

function New-MyHvTestNamespace {
    <#
    .SYNOPSIS
        Creates network namespace mhtest-<random> with lo up and bridge br0 (10.77.0.1/24) up; returns its name.
    .DESCRIPTION
        Only the namespace is touched, never the host's own interfaces. Delete it with Remove-MyHvTestNamespace.
    #>
    [CmdletBinding()]
    param([string] $Bridge = 'br0', [string] $Address = '10.77.0.1/24')
    $name = 'mhtest-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    & ip netns add $name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $name failed" }
    try {
        foreach ($cmd in @(
                @('link', 'set', 'lo', 'up'),
                @('link', 'add', $Bridge, 'type', 'bridge'),
                @('addr', 'add', $Address, 'dev', $Bridge),
                @('link', 'set', $Bridge, 'up'))) {
            & ip -n $name @cmd
            if ($LASTEXITCODE -ne 0) { throw "ip -n $name $($cmd -join ' ') failed" }
        }
    } catch {
        & ip netns delete $name
        throw
    }
    $name
}

function Remove-MyHvTestNamespace {
    <#
    .SYNOPSIS
        Deletes a namespace made by New-MyHvTestNamespace (only names starting with 'mhtest-'); throws if it stays.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    if (-not $Name.StartsWith('mhtest-')) { throw "refusing to delete namespace '$Name'" }
    if (Test-MyHvNamespace -Name $Name) { & ip netns delete $Name }
    if (Test-MyHvNamespace -Name $Name) { throw "network namespace $Name is still there" }
}

function Test-MyHvNamespace {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    [bool] (@(& ip netns list 2>$null) | Where-Object { ($_ -split '\s+')[0] -eq $Name })
}

function Get-MyHvPingCommand {
    <#
    .SYNOPSIS
        The argument list of a ping: 'ping' when installed, else busybox's (installed by Bootstrap); $null if neither.
    #>
    $ping = Get-Command -Name ping -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($ping) { return , @($ping.Source) }
    $busybox = Get-Command -Name busybox -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($busybox) { return , @($busybox.Source, 'ping') }
    $null
}

Export-ModuleMember -Function Invoke-MyHvChild, Get-MyHvProcessByCommandLine, Get-MyHvVirtiofsd, Get-MyHvVirtiofsdLockFile,
    Get-MyHvSocketFile, Get-MyHvNamespaceDevice, New-MyHvTestNamespace, Remove-MyHvTestNamespace, Test-MyHvNamespace,
    Get-MyHvPingCommand
