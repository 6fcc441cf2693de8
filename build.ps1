#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates the MyHypervisor module.
.DESCRIPTION
    Tasks:
      Bootstrap  install what is missing (Debian packages when root, NuGet packages, the 'tiny' guest image)
      Build      build the module folder out/MyHypervisor (includes Docs)
      Docs       turn docs/cmdlets/*.md into MAML help in out/MyHypervisor/en-US
      Test       Bootstrap, Build, then the Pester runner; exits with the runner's code
      Demo       start a real VM, show it and its stats, stop and remove it
      Bench      measure the module against driving QEMU by hand; writes bench/results.{md,json}
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Bootstrap', 'Build', 'Docs', 'Test', 'Demo', 'Bench')]
    [string[]] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Passed to the test runner: run only the suites under this folder.
    [string] $TestPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'build/BuildCommon.ps1')

$exitCode = 0
foreach ($name in $Task) {
    Write-Host "==> $name" -ForegroundColor Cyan
    $script = Join-Path $PSScriptRoot "build/tasks/$name.ps1"
    # A task reports through its exit code (`exit <n>`); whatever it writes is shown, never read.
    $global:LASTEXITCODE = 0
    & $script -Configuration $Configuration -TestPath $TestPath | Out-Host
    $exitCode = $LASTEXITCODE
    if ($exitCode -ne 0) { Write-Host "==> $name failed (exit code $exitCode)" -ForegroundColor Red; break }
}
exit $exitCode
