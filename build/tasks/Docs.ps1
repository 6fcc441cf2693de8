# Turns docs/cmdlets/*.md (PlatyPS v1 layout) into MAML help shipped in out/MyHypervisor/en-US.
# The converter (build/tools/HelpBuilder, Markdig) is built into out/obj/HelpBuilder only when its
# sources changed, then run as a dll: a no-op rebuild costs nothing, a docs change ~0.3 s.
param(
    [string] $Configuration = 'Release',
    [string] $TestPath,
    # Where the help goes; Build passes its staging folder. Default: the built module's en-US.
    [string] $HelpDirectory
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

$toolDir = Join-Path $RepoRoot 'build/tools/HelpBuilder'
$project = Join-Path $toolDir 'HelpBuilder.csproj'
$toolOut = Join-Path $OutRoot 'obj/HelpBuilder'
$toolDll = Join-Path $toolOut 'HelpBuilder.dll'

# Up to date when the dll is newer than every source of the tool and the shared build props.
$sources = @(Get-ChildItem -LiteralPath $toolDir -Recurse -File -Include '*.cs', '*.csproj' |
        Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' })
$sources += Get-Item -LiteralPath (Join-Path $RepoRoot 'Directory.Build.props'), (Join-Path $RepoRoot 'Directory.Packages.props')
$newest = ($sources | Measure-Object -Property LastWriteTimeUtc -Maximum).Maximum
if (-not (Test-Path -LiteralPath $toolDll) -or (Get-Item -LiteralPath $toolDll).LastWriteTimeUtc -lt $newest) {
    Invoke-Native dotnet @('build', $project, '-c', $Configuration, '-o', $toolOut, '--nologo', '-v', 'quiet')
    (Get-Item -LiteralPath $toolDll).LastWriteTimeUtc = [datetime]::UtcNow
}

$helpDir = if ($HelpDirectory) { $HelpDirectory } else { Join-Path $ModuleOut 'en-US' }
$null = New-Item -ItemType Directory -Force -Path $helpDir
Invoke-Native dotnet @($toolDll, (Join-Path $RepoRoot 'docs/cmdlets'), (Join-Path $helpDir 'MyHypervisor.PowerShell.dll-Help.xml'))
exit 0
