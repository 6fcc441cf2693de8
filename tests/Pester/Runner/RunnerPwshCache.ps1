# A ReadyToRun copy of pwsh for the runner's children. Dot-sourced by Invoke-TestRun.ps1 (which
# only looks the copy up) and by build/tasks/Bootstrap.ps1 (which makes it). Not a suite.
#
# Why: the PowerShell dotnet tool ships its assemblies as IL only, so every child pwsh JIT-compiles
# System.Management.Automation and the rest from scratch: about 0.9 s of CPU before the first line
# of a script, and most of Pester's import. Precompiled (crossgen2, the compiler `dotnet publish
# -p:PublishReadyToRun=true` uses) the same assemblies start a child in about a third of that.
# The copy holds the same IL (ReadyToRun code is only a cache the runtime may ignore), so a suite
# sees the same PowerShell, version and modules; only $PSHOME is the copy's folder.

$script:PwshCacheMarker = '.myhv-readytorun'
# The assemblies a child that runs a Pester suite loads (listed from a child's AppDomain), about a
# fifth of $PSHOME's: compiling all of them would cost four times as long for nothing a suite uses.
$script:PwshHotAssemblies = @('pwsh.dll', 'System.Management.Automation.dll', 'Microsoft.PowerShell.ConsoleHost.dll',
    'Microsoft.PowerShell.Commands.Utility.dll', 'Microsoft.PowerShell.Commands.Management.dll', 'Microsoft.PowerShell.Security.dll',
    'Newtonsoft.Json.dll', 'Microsoft.Management.Infrastructure.dll', 'Microsoft.ApplicationInsights.dll',
    'Microsoft.PowerShell.MarkdownRender.dll', 'Markdig.Signed.dll')

function Get-PwshCacheKey {
    <# What the copy depends on: the pwsh folder and version, and the runtime whose crossgen2 compiled it. #>
    $text = "$PSHOME|$($PSVersionTable.PSVersion)|$([Environment]::Version)"
    [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($text))).Substring(0, 16).ToLowerInvariant()
}

function Get-PwshCacheFolder {
    $cacheRoot = if ($env:XDG_CACHE_HOME) { $env:XDG_CACHE_HOME } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.cache' }
    Join-Path $cacheRoot "myhypervisor/pwsh-readytorun/$(Get-PwshCacheKey)"
}

function Test-PwshNeedsReadyToRun {
    <# True under `dotnet pwsh` (the tool, IL only); a pwsh apphost from a package is precompiled already. #>
    [System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -ne 'pwsh' -and [System.IO.File]::Exists((Join-Path $PSHOME 'pwsh.dll'))
}

function Get-ReadyToRunPwshHome {
    <# The finished copy's folder, or $null (not made yet, or not needed). Complete only once its marker exists. #>
    if ($env:MYHV_RUNNER_PLAIN_PWSH -eq '1' -or -not (Test-PwshNeedsReadyToRun)) { return $null }
    if ([System.IO.File]::Exists((Join-Path $PSHOME $script:PwshCacheMarker))) { return $PSHOME }   # this pwsh is the copy (a nested runner)
    $folder = Get-PwshCacheFolder
    if ([System.IO.File]::Exists((Join-Path $folder $script:PwshCacheMarker)) -and [System.IO.File]::Exists((Join-Path $folder 'pwsh.dll'))) { return $folder }
    $null
}

function Test-ManagedIlOnly {
    <# A managed assembly without precompiled code (a native library or a ReadyToRun image is left alone). #>
    param([Parameter(Mandatory)] [string] $Path)
    $stream = [System.IO.File]::OpenRead($Path)
    try {
        $reader = [System.Reflection.PortableExecutable.PEReader]::new($stream)
        try {
            $headers = $reader.PEHeaders
            $null -ne $headers.CorHeader -and $headers.CorHeader.ManagedNativeHeaderDirectory.Size -eq 0 -and
                -not $headers.CorHeader.Flags.HasFlag([System.Reflection.PortableExecutable.CorFlags]::ILLibrary)
        } finally { $reader.Dispose() }
    } catch { $false } finally { $stream.Dispose() }
}

function Get-Crossgen2Path {
    <# crossgen2 for this runtime version, restored from NuGet into the package cache when missing. #>
    param([Parameter(Mandatory)] [string] $NuGetRoot)
    $version = "$([Environment]::Version)"
    $exe = Join-Path $NuGetRoot "microsoft.netcore.app.crossgen2.linux-x64/$version/tools/crossgen2"
    if ([System.IO.File]::Exists($exe)) { return $exe }
    $project = (& mktemp -d -p /tmp 'mhcg-XXXXXX').Trim()
    try {
        Set-Content -LiteralPath (Join-Path $project 'Crossgen2Restore.csproj') -Value @"
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net$($([Environment]::Version).Major).0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup>
  <ItemGroup><PackageDownload Include="Microsoft.NETCore.App.Crossgen2.linux-x64" Version="[$version]" /></ItemGroup>
</Project>
"@
        & dotnet restore (Join-Path $project 'Crossgen2Restore.csproj') --nologo -v quiet | Out-Host
        if ($LASTEXITCODE -ne 0) { throw "dotnet restore of crossgen2 $version failed (exit $LASTEXITCODE)" }
    } finally { & rm -rf -- $project }
    if (-not [System.IO.File]::Exists($exe)) { throw "crossgen2 was restored but $exe is missing" }
    $exe
}

function Initialize-ReadyToRunPwsh {
    <#
    Makes the copy when it is missing: copies $PSHOME into a temporary folder beside the cache,
    compiles the IL-only assemblies a child loads (two at a time), checks that the copy starts and reports
    this pwsh's version, and only then renames it into place (two builds at once: one wins).
    Returns the folder, or $null under a pwsh that needs no copy. Throws when it cannot be made.
    #>
    param([string] $NuGetRoot = (Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'))
    if (-not (Test-PwshNeedsReadyToRun)) { return $null }
    $folder = Get-PwshCacheFolder
    if ([System.IO.File]::Exists((Join-Path $folder $script:PwshCacheMarker))) { return $folder }
    $crossgen = Get-Crossgen2Path -NuGetRoot $NuGetRoot
    $parent = Split-Path -Parent $folder
    $null = [System.IO.Directory]::CreateDirectory($parent)
    $temp = Join-Path $parent ".build-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
    try {
        & cp -a -- $PSHOME $temp
        if ($LASTEXITCODE -ne 0) { throw "cannot copy $PSHOME" }
        $runtimeDir = [System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory().TrimEnd('/')
        $assemblies = @($script:PwshHotAssemblies | Where-Object { [System.IO.File]::Exists((Join-Path $PSHOME $_)) -and (Test-ManagedIlOnly -Path (Join-Path $PSHOME $_)) })
        $failed = $assemblies | ForEach-Object -ThrottleLimit 2 -Parallel {
            $out = Join-Path $using:temp $_
            $log = & $using:crossgen (Join-Path $using:PSHOME $_) -o "$out.r2r" -r "$using:runtimeDir/*.dll" -r "$using:PSHOME/*.dll" --targetos linux --targetarch x64 -O 2>&1
            if ($LASTEXITCODE -eq 0) { [System.IO.File]::Move("$out.r2r", $out, $true) }
            else { Remove-Item -LiteralPath "$out.r2r" -Force -ErrorAction Ignore; "$_ : $($log | Select-Object -Last 1)" }   # the IL copy stays: still correct
        }
        foreach ($f in @($failed)) { Write-Host "  crossgen2 left $f as IL" }
        $version = & ([Environment]::ProcessPath) (Join-Path $temp 'pwsh.dll') -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()'
        if ($LASTEXITCODE -ne 0 -or "$version".Trim() -ne "$($PSVersionTable.PSVersion)") { throw "the compiled copy of pwsh does not start as $($PSVersionTable.PSVersion) (got '$version')" }
        Set-Content -LiteralPath (Join-Path $temp $script:PwshCacheMarker) -Value "$PSHOME`n$($PSVersionTable.PSVersion)`n$([Environment]::Version)`n$($assemblies.Count) assemblies compiled"
        try { [System.IO.Directory]::Move($temp, $folder) }
        catch { if (-not [System.IO.File]::Exists((Join-Path $folder $script:PwshCacheMarker))) { throw } }   # another build won
    } finally {
        if ([System.IO.Directory]::Exists($temp)) { & rm -rf -- $temp }
    }
    $folder
}
