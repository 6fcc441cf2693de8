# Paths and small helpers shared by the build tasks. Dot-sourced; defines no task itself.
$script:RepoRoot    = Split-Path -Parent $PSScriptRoot
$script:OutRoot     = Join-Path $RepoRoot 'out'
$script:ModuleOut   = Join-Path $OutRoot 'MyHypervisor'
$script:PesterVersion = '6.2.0'

function Get-NuGetPackageRoot {
    # The NuGet global packages folder, wherever this machine keeps it.
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    return Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}

function Get-PesterManifestPath {
    Join-Path (Get-NuGetPackageRoot) "pester/$script:PesterVersion/tools/Pester.psd1"
}

function Invoke-BuildTask {
    # Runs another task (build/tasks/<Name>.ps1) and throws when its exit code is not 0. A task
    # reports through `exit <n>`; its pipeline output goes to the host.
    param([Parameter(Mandatory)] [string] $Name, [hashtable] $Parameters = @{})
    $global:LASTEXITCODE = 0
    & (Join-Path $PSScriptRoot "tasks/$Name.ps1") @Parameters | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "The $Name task failed (exit code $LASTEXITCODE)" }
}

function Invoke-Native {
    # Runs a program with an argument list (never a shell string) and fails on a non-zero exit.
    # Its output goes to the host, not the pipeline, so a compiler's error messages reach the log.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    & $FilePath @ArgumentList | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') exited with $LASTEXITCODE" }
}
