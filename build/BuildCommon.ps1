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
    # Its output goes to the host, not the pipeline: a task's pipeline output is its exit code
    # (build.ps1), and a compiler's error messages must reach the log.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    & $FilePath @ArgumentList | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') exited with $LASTEXITCODE" }
}
