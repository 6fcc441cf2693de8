# Builds the cmdlet assembly and lays out the complete module folder out/MyHypervisor.
param([string] $Configuration = 'Release', [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

$publishDir = Join-Path $OutRoot "obj/publish"
if (Test-Path $publishDir) { Remove-Item -Recurse -Force $publishDir }
Invoke-Native dotnet @('publish', (Join-Path $RepoRoot 'src/MyHypervisor.PowerShell/MyHypervisor.PowerShell.csproj'),
    '-c', $Configuration, '-o', $publishDir, '--nologo', '-v', 'quiet', '-p:GenerateDocumentationFile=false')

if (Test-Path $ModuleOut) { Remove-Item -Recurse -Force $ModuleOut }
$null = New-Item -ItemType Directory -Path $ModuleOut
foreach ($file in 'MyHypervisor.PowerShell.dll', 'MyHypervisor.Core.dll', 'Mono.Unix.dll') {
    Copy-Item (Join-Path $publishDir $file) $ModuleOut
}
# Mono.Unix P/Invokes its own native shim; .NET probes the assembly's folder for it.
Copy-Item (Join-Path $publishDir 'runtimes/linux-x64/native/libMono.Unix.so') $ModuleOut
Copy-Item (Join-Path $RepoRoot 'src/MyHypervisor.PowerShell/MyHypervisor.Format.ps1xml') $ModuleOut

# The manifest's version has one source: Directory.Build.props.
[xml] $props = Get-Content (Join-Path $RepoRoot 'Directory.Build.props')
$version = @($props.Project.PropertyGroup.ModuleVersion | Where-Object { $_ })[0]
(Get-Content -Raw (Join-Path $RepoRoot 'MyHypervisor.psd1')).Replace('{{ModuleVersion}}', $version) |
    Set-Content -NoNewline (Join-Path $ModuleOut 'MyHypervisor.psd1')

& (Join-Path $PSScriptRoot 'Docs.ps1') -Configuration $Configuration
Write-Host "Module built at $ModuleOut"
0
