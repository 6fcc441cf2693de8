# The README's main job: start a real VM from the 'tiny' image, show it, its stats and its
# console's boot lines, stop it gracefully, remove it. Exits 0 on success, 1 on any failure
# (after removing what it created).
#
# Runs Bootstrap and Build first, as the Test task does, so it works on a clean clone; set
# MYHV_DEMO_SKIP_BUILD=1 to use the module already built in out/MyHypervisor.
# Uses $env:MYHV_HOME when it is set (and never touches other VMs there); otherwise a temporary
# home, deleted at the end.
param([string] $Configuration = 'Release', [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

function Show-Step([string] $Text) { Write-Host "`n--- $Text" -ForegroundColor Cyan }

if ($env:MYHV_DEMO_SKIP_BUILD -ne '1') {
    try {
        Invoke-BuildTask Bootstrap @{ Configuration = $Configuration }
        Invoke-BuildTask Build @{ Configuration = $Configuration }
    }
    catch {
        Write-Host "Demo failed while preparing: $($_.Exception.Message)" -ForegroundColor Red
        exit 1
    }
}

$manifest = Join-Path $ModuleOut 'MyHypervisor.psd1'
if (-not (Test-Path -LiteralPath $manifest)) {
    Write-Host "The module is not built at $ModuleOut; run: dotnet pwsh ./build.ps1 -Task Build" -ForegroundColor Red
    exit 1
}
Import-Module $manifest -Force

$savedHome = $env:MYHV_HOME
$tempHome = $null
$vmName = $null      # the VM this demo created, while it exists
$exitCode = 1
try {
    if ([string]::IsNullOrWhiteSpace($env:MYHV_HOME)) {
        # Short on purpose: unix socket paths under the home must stay below 108 bytes.
        $tempHome = Join-Path ([System.IO.Path]::GetTempPath()) ('myhv-demo-' + [System.IO.Path]::GetRandomFileName().Replace('.', ''))
        $null = New-Item -ItemType Directory -Path $tempHome
        $env:MYHV_HOME = $tempHome
    }
    Write-Host "MYHV_HOME: $env:MYHV_HOME$(if ($tempHome) { ' (temporary, removed at the end)' })"

    # Never touch a VM the user already has: pick a free name.
    $name = 'demo'
    while (Get-MyVm -Name $name -ErrorAction SilentlyContinue) {
        $name = 'demo-' + (Get-Random -Minimum 1000 -Maximum 9999)
    }

    Show-Step "Creating VM '$name' from the 'tiny' image and starting it: New-MyVm -Name $name -Image tiny | Start-MyVm -Wait -PassThru"
    $created = New-MyVm -Name $name -Image tiny -ErrorAction Stop
    $vmName = $name
    $started = $created | Start-MyVm -Wait -TimeoutSeconds 180 -PassThru -ErrorAction Stop
    if ("$($started.Status)" -ne 'Running') { throw "VM '$vmName' is $($started.Status) after Start-MyVm -Wait." }

    Show-Step 'Get-MyVm'
    Get-MyVm -Name $vmName -ErrorAction Stop | Format-Table -AutoSize | Out-Host
    Write-Host "Pid $($started.Pid), accelerator $($started.Accelerator)"

    Show-Step 'Get-MyVmStats'
    Get-MyVmStats -Name $vmName -ErrorAction Stop | Format-List | Out-Host

    Show-Step 'Get-MyVmConsole: the guest''s boot lines'
    $console = @(Get-MyVmConsole -Name $vmName -ErrorAction Stop)
    $console | Where-Object { $_ -like 'myhv-*' } | ForEach-Object { Write-Host "  $_" }
    $ready = @($console | Where-Object { $_ -eq 'myhv-guest: ready' })
    if (-not $ready) { throw "The console of VM '$vmName' has no readiness line." }
    Write-Host "Readiness line: $($ready[0])" -ForegroundColor Green

    Show-Step 'Stop-MyVm (ACPI power button; the guest powers itself off)'
    $stopped = Stop-MyVm -Name $vmName -TimeoutSeconds 60 -PassThru -ErrorAction Stop
    $stopped | Format-Table -AutoSize | Out-Host
    Write-Host "Stop method: $($stopped.StopMethod)" -ForegroundColor $(if ("$($stopped.StopMethod)" -eq 'GuestPowerOff') { 'Green' } else { 'Yellow' })
    if ("$($stopped.Status)" -ne 'Stopped') { throw "VM '$vmName' is $($stopped.Status) after Stop-MyVm." }

    Show-Step 'Remove-MyVm'
    Remove-MyVm -Name $vmName -Force -ErrorAction Stop
    $vmName = $null
    Write-Host 'Removed the VM and its disk.'
    $exitCode = 0
}
catch {
    Write-Host "Demo failed: $($_.Exception.Message)" -ForegroundColor Red
    if ($vmName -and (Get-MyVm -Name $vmName -ErrorAction SilentlyContinue)) {
        Write-Host "Console of VM '$vmName' (last lines):"
        Get-MyVmConsole -Name $vmName -Tail 20 -ErrorAction SilentlyContinue | ForEach-Object { Write-Host "  $_" }
    }
}
finally {
    # On failure (or Ctrl+C): remove the VM this demo created, and the temporary home.
    if ($vmName -and (Get-MyVm -Name $vmName -ErrorAction SilentlyContinue)) {
        Write-Host "Cleaning up: Remove-MyVm -Name $vmName -Force"
        Remove-MyVm -Name $vmName -Force -ErrorAction Continue
    }
    if ($tempHome) {
        Remove-Item -LiteralPath $tempHome -Recurse -Force -ErrorAction Continue
        $env:MYHV_HOME = $savedHome
    }
}
if ($exitCode -eq 0) { Write-Host "`nDemo finished." -ForegroundColor Green }
exit $exitCode
