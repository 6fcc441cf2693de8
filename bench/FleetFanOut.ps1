#requires -Version 7.4
<#
.SYNOPSIS
    Fan-out cost of -VmHost: Get-MyVm -VmHost over 1, 2 and 3 hosts against Get-MyVm on one host
    through Invoke-Command; writes fleet-results.md.
.DESCRIPTION
    Called by bench/Invoke-Benchmark.ps1 (section 'fleet'), or alone as root:
        dotnet pwsh bench/FleetFanOut.ps1 -WorkDirectory /tmp/fleet-bench
    Three hosts as the Fleet suite makes them (tests/Pester/Fleet/FleetLab.psm1: network
    namespaces, a bridge, one sshd each with pwsh as its powershell subsystem), each with
    -VmsPerHost stopped VMs. Rounds are interleaved (every variant once per round) after a warm-up,
    so the machine's load falls on all variants alike; medians and spread are reported. All of it
    is removed at the end, also on failure.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $WorkDirectory,
    [string] $OutputDirectory = $PSScriptRoot,
    [ValidateRange(3, 100)] [int] $Repetitions = 15,
    [ValidateRange(1, 50)] [int] $VmsPerHost = 5
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$repo = Split-Path -Parent $PSScriptRoot
Import-Module (Join-Path $repo 'tests/Pester/Fleet/FleetLab.psm1') -Force
Import-Module (Join-Path $repo 'out/MyHypervisor/MyHypervisor.psd1') -Force

function Get-Median([double[]] $Values) { $s = @($Values | Sort-Object); $s[[int][Math]::Floor($s.Count / 2)] }
function Get-Load { ([IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0] }
function Measure-Ms([scriptblock] $Body) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $out = @(& $Body); $sw.Stop()
    [pscustomobject]@{ Ms = $sw.Elapsed.TotalMilliseconds; Count = $out.Count }
}

$WorkDirectory = [IO.Path]::GetFullPath($WorkDirectory)
$null = New-Item -ItemType Directory -Force $WorkDirectory
& chmod 700 $WorkDirectory
$env:MYHV_HOME = Join-Path $WorkDirectory 'local'
$null = New-Item -ItemType Directory -Force $env:MYHV_HOME
& chmod 700 $env:MYHV_HOME
$env:MYHV_ACCEL = 'tcg'
$lab = $null
$md = [Text.StringBuilder]::new()
try {
    $loadBefore = Get-Load
    $lab = New-FleetLab -Root $WorkDirectory -Count 3 -ModuleRoot (Join-Path $repo 'out')
    $connectMs = foreach ($h in $lab.Hosts) {
        (Measure-Ms {
            Connect-MyVmHost -HostName $h.Address -UserName root -KeyFilePath $lab.KeyFile -Name $h.Name `
                -SshOption @{ UserKnownHostsFile = $lab.KnownHosts; StrictHostKeyChecking = 'yes' }
        }).Ms
    }
    foreach ($h in $lab.Hosts) { 1..$VmsPerHost | ForEach-Object { New-MyVm -Name "v$_" -VmHost $h.Name -Network None | Out-Null } }
    $sessions = @($lab.Hosts | ForEach-Object { Get-PSSession -Name "MyVmHost:$($_.Name)" })
    $variants = [ordered]@{
        'Invoke-Command -Session h1 { Get-MyVm }'        = { Invoke-Command -Session $sessions[0] { Get-MyVm } }
        'Get-MyVm -VmHost h1'                            = { Get-MyVm -VmHost h1 }
        'Get-MyVm -VmHost h1,h2'                         = { Get-MyVm -VmHost h1, h2 }
        'Get-MyVm -VmHost h1,h2,h3'                      = { Get-MyVm -VmHost h1, h2, h3 }
        'Get-MyVm -VmHost h1,h2,h3 -ThrottleLimit 1'     = { Get-MyVm -VmHost h1, h2, h3 -ThrottleLimit 1 }
        'Invoke-Command -Session h1,h2,h3 { Get-MyVm }'  = { Invoke-Command -Session $sessions { Get-MyVm } }
    }
    $times = @{}; $counts = @{}
    foreach ($k in $variants.Keys) { $null = & $variants[$k]; $times[$k] = [Collections.Generic.List[double]]::new() }
    for ($round = 0; $round -lt $Repetitions; $round++) {
        foreach ($k in $variants.Keys) { $m = Measure-Ms $variants[$k]; $times[$k].Add($m.Ms); $counts[$k] = $m.Count }
    }
    $loadAfter = Get-Load
    $base = Get-Median $times['Invoke-Command -Session h1 { Get-MyVm }']
    $one = Get-Median $times['Get-MyVm -VmHost h1']
    [void]$md.AppendLine('# Fleet fan-out (bench/FleetFanOut.ps1)').AppendLine()
    [void]$md.AppendLine("Measured $([DateTimeOffset]::UtcNow.ToString('u')): 3 hosts (network namespaces of this machine, one sshd each, pwsh as the powershell subsystem), $VmsPerHost stopped VMs per host, $Repetitions interleaved rounds after a warm-up; load average $loadBefore before, $loadAfter after; $([Environment]::ProcessorCount) CPUs shared by all hosts.").AppendLine()
    [void]$md.AppendLine('| Variant | VMs returned | Median ms | Min ms | Max ms | vs Invoke-Command on h1 |').AppendLine('|---|---|---|---|---|---|')
    foreach ($k in $variants.Keys) {
        $t = $times[$k]; $med = Get-Median $t
        [void]$md.AppendLine(('| `{0}` | {1} | {2:0.0} | {3:0.0} | {4:0.0} | {5:0.00} |' -f $k, $counts[$k], $med, ($t | Measure-Object -Minimum).Minimum, ($t | Measure-Object -Maximum).Maximum, ($med / $base)))
    }
    [void]$md.AppendLine()
    [void]$md.AppendLine(('Connect-MyVmHost (ssh, pwsh start on the host, Import-Module, version check, one Get-MyVmHost): {0} ms.' -f (($connectMs | ForEach-Object { '{0:0}' -f $_ }) -join ', ')))
    [void]$md.AppendLine(('Per-host cost: 1 host {0:0.0} ms, 2 hosts {1:0.0} ms, 3 hosts {2:0.0} ms (median).' -f $one, (Get-Median $times['Get-MyVm -VmHost h1,h2']), (Get-Median $times['Get-MyVm -VmHost h1,h2,h3'])))
    $text = $md.ToString()
    [IO.File]::WriteAllText((Join-Path $OutputDirectory 'fleet-results.md'), $text)
    Write-Host $text
}
finally {
    try { Get-MyVm -VmHost h* -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction SilentlyContinue } catch { Write-Warning "cleanup: $_" }
    Disconnect-MyVmHost -Name 'h*' -Confirm:$false -ErrorAction SilentlyContinue
    if ($lab) { Remove-FleetLab -Lab $lab }
    Remove-Item -Recurse -Force -LiteralPath $WorkDirectory -ErrorAction SilentlyContinue
}
