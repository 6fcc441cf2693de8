# Builds the cmdlet assembly and lays out the complete module folder out/MyHypervisor.
param([string] $Configuration = 'Release', [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

$publishDir = Join-Path $OutRoot "obj/publish"
if (Test-Path $publishDir) { Remove-Item -Recurse -Force $publishDir }
Invoke-Native dotnet @('publish', (Join-Path $RepoRoot 'src/MyHypervisor.PowerShell/MyHypervisor.PowerShell.csproj'),
    '-c', $Configuration, '-o', $publishDir, '--nologo', '-v', 'quiet', '-p:GenerateDocumentationFile=false')

# Lay the module out in a staging folder and swap it in at the end, so a pwsh importing
# out/MyHypervisor meanwhile sees the old module or the new one, never half of one.
$staging = Join-Path $OutRoot ".MyHypervisor.staging"
if (Test-Path $staging) { Remove-Item -Recurse -Force $staging }
$null = New-Item -ItemType Directory -Path $staging
foreach ($file in 'MyHypervisor.PowerShell.dll', 'MyHypervisor.Core.dll', 'Mono.Unix.dll') {
    Copy-Item (Join-Path $publishDir $file) $staging
}
# Mono.Unix P/Invokes its own native shim; .NET probes the assembly's folder for it.
Copy-Item (Join-Path $publishDir 'runtimes/linux-x64/native/libMono.Unix.so') $staging
Copy-Item (Join-Path $RepoRoot 'src/MyHypervisor.PowerShell/MyHypervisor.Format.ps1xml') $staging

# The manifest's version has one source: Directory.Build.props.
[xml] $props = Get-Content (Join-Path $RepoRoot 'Directory.Build.props')
$version = @($props.Project.PropertyGroup.ModuleVersion | Where-Object { $_ })[0]
(Get-Content -Raw (Join-Path $RepoRoot 'MyHypervisor.psd1')).Replace('{{ModuleVersion}}', $version) |
    Set-Content -NoNewline (Join-Path $staging 'MyHypervisor.psd1')

Invoke-BuildTask Docs @{ Configuration = $Configuration; HelpDirectory = (Join-Path $staging 'en-US') }
# about_ topics are plain text that Get-Help finds next to the module's MAML.
foreach ($about in Get-ChildItem (Join-Path $RepoRoot 'docs') -Filter 'about_*.md') {
    Copy-Item $about.FullName (Join-Path $staging "en-US/$($about.BaseName).help.txt")
}

$previous = Join-Path $OutRoot ".MyHypervisor.previous"
if (Test-Path $previous) { Remove-Item -Recurse -Force $previous }
if (Test-Path $ModuleOut) { Move-Item $ModuleOut $previous }
Move-Item $staging $ModuleOut
if (Test-Path $previous) { Remove-Item -Recurse -Force $previous }
Write-Host "Module built at $ModuleOut"
exit 0
