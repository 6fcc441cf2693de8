# Turns docs/cmdlets/*.md (PlatyPS layout) into MAML help shipped in out/MyHypervisor/en-US.
param([string] $Configuration = 'Release', [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')
$converter = Join-Path $RepoRoot 'build/tools/HelpBuilder/HelpBuilder.csproj'
if (-not (Test-Path $converter)) { Write-Warning 'No help converter yet.'; return 0 }
$helpDir = Join-Path $ModuleOut 'en-US'
$null = New-Item -ItemType Directory -Force -Path $helpDir
Invoke-Native dotnet @('run', '--project', $converter, '-c', $Configuration, '--',
    (Join-Path $RepoRoot 'docs/cmdlets'), (Join-Path $helpDir 'MyHypervisor.PowerShell.dll-Help.xml'))
0
