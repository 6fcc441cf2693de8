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

function Invoke-Native {
    # Runs a program with an argument list (never a shell string) and fails on a non-zero exit.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') exited with $LASTEXITCODE" }
}
