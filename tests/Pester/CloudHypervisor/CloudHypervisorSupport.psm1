<#
Helpers for the Cloud Hypervisor suite: the STAND-IN for Cloud Hypervisor (tests/CloudHypervisorStandIn,
a test program, never shipped) built on demand, and whether a real cloud-hypervisor with a KVM
that boots guests is on this host.
#>

Set-StrictMode -Version 3.0

$script:RepoRoot = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
$script:RepoRoot = Split-Path -Parent $script:RepoRoot
$script:StandInSource = Join-Path $script:RepoRoot 'tests/CloudHypervisorStandIn'
$script:StandInOutput = Join-Path $script:RepoRoot 'out/test-tools/cloud-hypervisor-stand-in'

function Get-ChStandInDirectory {
    <#
    .SYNOPSIS
        The folder holding the stand-in's executable (named cloud-hypervisor), built first when any
        of its sources is newer than the build (under a lock, so parallel suites build it once).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $exe = Join-Path $script:StandInOutput 'cloud-hypervisor'
    $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $script:StandInOutput)
    $lockPath = Join-Path (Split-Path -Parent $script:StandInOutput) 'cloud-hypervisor-stand-in.lock'
    $lock = $null
    $deadline = [DateTime]::UtcNow.AddMinutes(5)
    while (-not $lock) {
        # FileShare.None is an flock on Unix: one builder at a time.
        try { $lock = [System.IO.File]::Open($lockPath, 'OpenOrCreate', 'ReadWrite', 'None') }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -gt $deadline) { throw "the stand-in's build lock $lockPath stayed taken for 5 minutes" }
            Start-Sleep -Milliseconds 200
        }
    }
    try {
        $newest = Get-ChildItem -LiteralPath $script:StandInSource -File | Where-Object Extension -In '.cs', '.csproj' |
            Sort-Object LastWriteTimeUtc -Descending | Select-Object -First 1
        if (-not (Test-Path -LiteralPath $exe) -or (Get-Item -LiteralPath $exe).LastWriteTimeUtc -lt $newest.LastWriteTimeUtc) {
            $dotnet = (Get-Command dotnet -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
            $log = & $dotnet build (Join-Path $script:StandInSource 'CloudHypervisorStandIn.csproj') -c Release -o $script:StandInOutput -nologo 2>&1
            if ($LASTEXITCODE -ne 0) { throw "building the Cloud Hypervisor stand-in failed:`n$($log -join "`n")" }
            (Get-Item -LiteralPath $exe).LastWriteTimeUtc = [DateTime]::UtcNow
        }
    }
    finally { $lock.Dispose() }
    $script:StandInOutput
}

function Test-RealCloudHypervisor {
    <#
    .SYNOPSIS
        True when a real cloud-hypervisor (not the stand-in) is on PATH and KVM really boots guests
        on this host (the module's accelerator probe, as Test-MyVmHost runs it).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    $ch = Get-Command cloud-hypervisor -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if (-not $ch) { return $false }
    $version = & $ch.Source --version 2>&1
    if ("$version" -match 'stand-in') { return $false }
    $saved = $env:MYHV_ACCEL
    try {
        $env:MYHV_ACCEL = 'auto'
        $accelerator = Test-MyVmHost | Where-Object Check -EQ 'Accelerator'
        [bool] ($accelerator -and $accelerator.Ok -and $accelerator.Detail -like 'kvm:*')
    }
    finally { $env:MYHV_ACCEL = $saved }
}

function Get-ChStandInProcess {
    <# Live stand-in or cloud-hypervisor processes whose command line names -HomePath (pid, command line). #>
    param([Parameter(Mandatory)] [string] $HomePath)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
        try {
            $exe = [System.IO.Path]::GetFileName([System.IO.File]::ResolveLinkTarget("$dir/exe", $false).FullName)
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Split([char] 0)
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
        }
        catch { continue }
        if ($exe -ne 'cloud-hypervisor' -or $stat -match '\) Z ') { continue }
        if (@($cmd | Where-Object { $_ -like "*$HomePath/*" }).Count) { [pscustomobject]@{ Pid = $procId; CommandLine = $cmd } }
    }
}

Export-ModuleMember -Function Get-ChStandInDirectory, Test-RealCloudHypervisor, Get-ChStandInProcess
