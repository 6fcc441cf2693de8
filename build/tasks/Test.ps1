# Bootstrap, Build, then the Pester runner; the runner's exit code is the task's.
# Suites run in parallel child processes (one per processor by default; -Parallel overrides,
# host-exclusive suites always run alone).
param([string] $Configuration = 'Release', [string] $TestPath, [int] $Parallel = [Environment]::ProcessorCount)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

Invoke-BuildTask Bootstrap @{ Configuration = $Configuration }
Invoke-BuildTask Build @{ Configuration = $Configuration }

$path = if ($TestPath) { $TestPath } else { Join-Path $RepoRoot 'tests/Pester' }
$runner = Join-Path $RepoRoot 'tests/Pester/Invoke-TestRun.ps1'
& $runner -Path $path -OutputDir (Join-Path $OutRoot 'test-results') -Parallel $Parallel
exit $LASTEXITCODE
