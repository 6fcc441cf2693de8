#requires -Version 7.4
<#
.SYNOPSIS
    Boot-to-ready of the Debian image under TCG, median of 3: a reference point (no target).
.DESCRIPTION
    Called by bench/Invoke-Benchmark.ps1 (its guest section), or on its own. Builds or finds the
    Debian image (New-MyVmImage -Name debian: instant when the recipe's image exists; a first build
    needs root and takes minutes), then, one VM at a time so the boots do not compete with each
    other, times New-MyVm + Start-MyVm -Wait (the module's readiness: the guest's ready signal or
    its agent's answer) from a fresh overlay. Records the load average around each boot: the
    machine is shared, and a TCG boot's time is mostly waiting for a CPU.
    Writes debian-boot.md and debian-boot.json to -OutputDirectory. Everything it makes lives under
    -BenchHome (its MYHV_HOME), removed at the end, also on failure.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $BenchHome,
    [string] $OutputDirectory = $PSScriptRoot,
    [ValidateRange(1, 20)] [int] $Repetitions = 3,
    [string] $ModuleManifest = (Join-Path (Split-Path -Parent $PSScriptRoot) 'out/MyHypervisor/MyHypervisor.psd1'),
    [int] $TimeoutSeconds = 1200
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module $ModuleManifest
$ProgressPreference = 'SilentlyContinue'

$saved = @{ Home = $env:MYHV_HOME; Accel = $env:MYHV_ACCEL }
$BenchHome = [IO.Path]::GetFullPath($BenchHome)
$null = [IO.Directory]::CreateDirectory($BenchHome)
[IO.File]::SetUnixFileMode($BenchHome, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
$env:MYHV_HOME = $BenchHome
$env:MYHV_ACCEL = 'tcg'
function Get-LoadAverage { ([IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0] }

$boots = [Collections.Generic.List[object]]::new()
try {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $image = New-MyVmImage -Name debian
    $imageSeconds = $sw.Elapsed.TotalSeconds
    Write-Host ('[debian-boot] image {0} ({1}) ready in {2:0.0} s' -f $image.Name, $image.KernelVersion, $imageSeconds)
    foreach ($i in 1..$Repetitions) {
        $name = "deb-boot-$i"
        $loadBefore = Get-LoadAverage
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $null = New-MyVm -Name $name -Image debian -MemoryMiB 512 -Network None
        $vm = Start-MyVm -Name $name -Wait -TimeoutSeconds $TimeoutSeconds -PassThru
        $seconds = $sw.Elapsed.TotalSeconds
        if ("$($vm.Status)" -ne 'Running') { throw "VM $name is $($vm.Status) after Start-MyVm -Wait: $($vm.StatusReason)" }
        $boots.Add([ordered]@{ seconds = [Math]::Round($seconds, 1); loadBefore = $loadBefore; loadAfter = Get-LoadAverage })
        Write-Host ('[debian-boot] boot {0}: ready in {1:0.0} s (load {2} -> {3})' -f $i, $seconds, $loadBefore, $boots[-1].loadAfter)
        Remove-MyVm -Name $name -Force -Confirm:$false
    }
} finally {
    Get-MyVm -ErrorAction Ignore | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    $env:MYHV_HOME = $saved.Home
    $env:MYHV_ACCEL = $saved.Accel
    Remove-Item -LiteralPath $BenchHome -Recurse -Force -ErrorAction Continue
}

$sorted = @($boots | ForEach-Object { $_.seconds } | Sort-Object)
$median = if ($sorted.Count % 2) { $sorted[[int][Math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
$result = [ordered]@{
    title = 'Boot-to-ready of the Debian image under TCG'
    measuredAt = [DateTimeOffset]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
    kernel = $image.KernelVersion
    medianSeconds = $median
    boots = $boots
    method = "New-MyVm (512 MiB, no network) + Start-MyVm -Wait, one VM at a time, each from a fresh overlay on the image's disk; $Repetitions boots, median reported. No target: a reference point."
}
[IO.File]::WriteAllText((Join-Path $OutputDirectory 'debian-boot.json'), ($result | ConvertTo-Json -Depth 5) + "`n")
$md = @(
    '# Debian boot-to-ready under TCG'
    ''
    "Measured $($result.measuredAt), kernel $($result.kernel). $($result.method)"
    ''
    '| boot | seconds | load average before | after |'
    '|---|---|---|---|'
    $(for ($i = 0; $i -lt $boots.Count; $i++) { "| $($i + 1) | $($boots[$i].seconds) | $($boots[$i].loadBefore) | $($boots[$i].loadAfter) |" })
    ''
    "**Median: $median s**"
)
[IO.File]::WriteAllText((Join-Path $OutputDirectory 'debian-boot.md'), ($md -join "`n") + "`n")
Write-Host "[debian-boot] median $median s; wrote debian-boot.md and debian-boot.json"
