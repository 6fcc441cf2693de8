<#
Helpers for the image suites (tests/Pester/Images). Not a suite. Import after TestHelpers.psm1.

The Debian image is built once and then served from the recipe-hash cache: every suite calls
Initialize-MyHvDebianImage, which runs New-MyVmImage -Name debian (instant when the image of
this recipe exists in the per-user image folder).
#>
Set-StrictMode -Version 3.0

$script:DebianImage = 'debian'

function Initialize-MyHvDebianImage {
    <#
    .SYNOPSIS
        Builds (or finds, by recipe hash) the Debian test image; returns its ImageInfo and how long it took.
    #>
    [CmdletBinding()]
    param()
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $ProgressPreference = 'SilentlyContinue'
    $image = New-MyVmImage -Name $script:DebianImage -ErrorAction Stop
    [pscustomobject]@{ Image = $image; Seconds = $sw.Elapsed.TotalSeconds }
}

function Get-MyHvImageMarkerProcess {
    <#
    .SYNOPSIS
        Live processes whose command line holds $Marker (an image build's work folder name).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Marker)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try {
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd()
            $state = ([System.IO.File]::ReadAllText("$dir/stat") -split '\) ', 2)[1][0]
        } catch { continue }
        if ($state -ne 'Z' -and $cmd.Contains($Marker)) { [pscustomobject]@{ Pid = $procId; CommandLine = $cmd } }
    }
}

function Get-MyHvImageLeftover {
    <#
    .SYNOPSIS
        What an image build of $Name left in the image folder: dot folders and journals (the lock file is kept on purpose), processes, mounts.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Folder, [Parameter(Mandatory)] [string] $Name)
    foreach ($item in Get-ChildItem -LiteralPath $Folder -Force -Filter ".$Name.*") {
        if ($item.Name -ne ".$Name.lock") { "file $($item.FullName)" }
    }
    foreach ($p in Get-MyHvImageMarkerProcess -Marker "/.$Name.build-") { "process $($p.Pid): $($p.CommandLine)" }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $point = $line.Split(' ')[4]
        if ($point.Contains("/.$Name.build-")) { "mount $point" }
    }
}

function Invoke-MyHvSsh {
    <#
    .SYNOPSIS
        Runs $Command in a guest over ssh with the test's key; returns Exit and Out (lines).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $KeyFile,
        [Parameter(Mandatory)] [string] $HostAddress,
        [int] $Port = 22,
        [Parameter(Mandatory)] [string] $Command
    )
    $out = & ssh -i $KeyFile -p $Port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR `
        -o BatchMode=yes -o ConnectTimeout=30 "root@$HostAddress" $Command 2>&1
    [pscustomobject]@{ Exit = $LASTEXITCODE; Out = @($out | ForEach-Object { "$_" }) }
}

Export-ModuleMember -Function Initialize-MyHvDebianImage, Get-MyHvImageMarkerProcess, Get-MyHvImageLeftover, Invoke-MyHvSsh
