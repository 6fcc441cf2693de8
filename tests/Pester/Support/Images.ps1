# Part of MyHvTestKit.psm1: the Debian test image (built once, then served from the recipe-hash
# cache) and what an image build may leave behind.

function Initialize-MyHvDebianImage {
    <#
    .SYNOPSIS
        Builds (or finds, by recipe hash) the Debian test image; returns its ImageInfo and how long it took.
    #>
    [CmdletBinding()]
    param([string] $Name = 'debian')
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $ProgressPreference = 'SilentlyContinue'
    $image = New-MyVmImage -Name $Name -ErrorAction Stop
    [pscustomobject]@{ Image = $image; Seconds = $sw.Elapsed.TotalSeconds }
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
    foreach ($p in Get-MyHvProcess -Text "/.$Name.build-") { "process $($p.Pid): $($p.CommandLine)" }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $point = $line.Split(' ')[4]
        if ($point.Contains("/.$Name.build-")) { "mount $point" }
    }
}
