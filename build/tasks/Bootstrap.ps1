# Installs what is missing, and only that: quick and idempotent when everything is there.
param([string] $Configuration, [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

# Debian packages the module and its tests need, keyed by a file each package provides.
$debianPackages = [ordered]@{
    'qemu-system-x86' = '/usr/bin/qemu-system-x86_64'
    'qemu-utils'      = '/usr/bin/qemu-img'
    'busybox-static'  = '/bin/busybox'
    'e2fsprogs'       = '/usr/sbin/mkfs.ext4'
    'iproute2'        = '/usr/sbin/ip'
    # Its qemu-ga (with the shared libraries it links) goes into the tiny image's initramfs.
    'qemu-guest-agent' = '/usr/sbin/qemu-ga'
    # New-MyVmImage (Debian images), the NoCloud seed disk, and SSH into guests in the tests.
    'mmdebstrap'      = '/usr/bin/mmdebstrap'
    'dosfstools'      = '/usr/sbin/mkfs.vfat'
    'mtools'          = '/usr/bin/mcopy'
    'openssh-client'  = '/usr/bin/ssh'
    'openssh-server'  = '/usr/sbin/sshd'
    # A real terminal for the interactive console's test (Connect-MyVmConsole in a tmux pane).
    'tmux'            = '/usr/bin/tmux'
    # Whole-disk images (New-MyVmImage -Format WholeDisk): the partition table, and SYSLINUX with its MBR code.
    'fdisk'           = '/usr/sbin/sfdisk'
    'syslinux'        = '/usr/bin/syslinux'
    'syslinux-common' = '/usr/lib/syslinux/mbr/mbr.bin'
}
$missing = @($debianPackages.Keys | Where-Object { -not (Test-Path -LiteralPath $debianPackages[$_]) })
if ($missing) {
    $isRoot = (& id -u) -eq '0'
    if (-not $isRoot) {
        throw "Missing Debian packages: $($missing -join ' '). Install them as root: apt-get install -y $($missing -join ' ')"
    }
    Write-Host "Installing Debian packages: $($missing -join ' ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get @('update', '-qq')
    Invoke-Native apt-get (@('install', '-y', '-qq', '--no-install-recommends') + $missing)
}

# NuGet packages that are not compile references (Pester): restored into the NuGet cache.
if (-not (Test-Path -LiteralPath (Get-PesterManifestPath))) {
    Invoke-Native dotnet @('restore', (Join-Path $RepoRoot 'build/packages/TestPackages.csproj'), '--nologo', '-v', 'quiet')
}

# A ReadyToRun copy of pwsh for the test runner's children (each starts in a third of the CPU time).
# Only a speed-up: without it the children start from the tool's pwsh, so a failure is a warning.
. (Join-Path $RepoRoot 'tests/Pester/Runner/RunnerPwshCache.ps1')
try { $null = Initialize-ReadyToRunPwsh -NuGetRoot (Get-NuGetPackageRoot) } catch { Write-Warning "No ReadyToRun copy of pwsh for the test runner (its suites start slower): $_" }

# The default guest image, built by the module itself (New-MyVmImage -Name tiny; instant when
# the image of this recipe exists). The module is built first when it is missing or older than
# its sources; the cmdlet runs in a child pwsh so this process never loads the module's assembly.
$moduleDll = Join-Path $ModuleOut 'MyHypervisor.Core.dll'
$newestSource = Get-ChildItem -LiteralPath (Join-Path $RepoRoot 'src') -Recurse -File |
    Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' } |
    Sort-Object LastWriteTimeUtc -Descending | Select-Object -First 1
if (-not (Test-Path -LiteralPath $moduleDll) -or (Get-Item -LiteralPath $moduleDll).LastWriteTimeUtc -lt $newestSource.LastWriteTimeUtc) {
    Invoke-BuildTask Build @{ Configuration = $(if ($Configuration) { $Configuration } else { 'Release' }) }
}
# A pwsh like this one: its apphost, or (under `dotnet pwsh`) dotnet with $PSHOME/pwsh.dll.
$pwsh = @([Environment]::ProcessPath)
if ([IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -ne 'pwsh') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
$manifest = (Join-Path $ModuleOut 'MyHypervisor.psd1').Replace("'", "''")
Invoke-Native $pwsh[0] (@($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command',
    "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$manifest'; `$null = New-MyVmImage -Name tiny"))
exit 0
