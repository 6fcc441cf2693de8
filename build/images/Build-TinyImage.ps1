#requires -Version 7.4
<#
.SYNOPSIS
    Builds the default guest image 'tiny' from Debian packages.
.DESCRIPTION
    The image folder holds:
      vmlinuz         the kernel of the Debian package linux-image-cloud-amd64 (unpacked, never installed)
      initrd.img      a gzipped newc initramfs: static busybox, the virtio/fuse/acpi modules, qemu-ga
                      (the QEMU guest agent from the Debian package qemu-guest-agent, with the shared
                      libraries it links and the dynamic loader), and the guest's /init
                      (build/images/tiny/init) with its files (build/images/tiny/etc, sbin)
      rootfs.ext4     a small raw ext4 disk made with 'mkfs.ext4 -d' (no loop mount); bit-for-bit
                      reproducible, because VMs keep qcow2 overlays on it across image rebuilds
      image.json      the image's metadata, read by the module (paths relative to the folder)
      recipe.sha256   the stamp: a hash of the recipe files (this script and build/images/tiny/**)

    Quick and idempotent: when the stamp matches and the files are there, nothing is done.
    Otherwise the image is built in a temp folder next to the destination and renamed into place,
    under a lock file, so a half image is never seen at the destination.
    Writes nothing to the pipeline (build.ps1 takes a task's last output as its exit code).
.PARAMETER Destination
    The image folder. Default: $XDG_DATA_HOME/myhypervisor/images/tiny (~/.local/share when unset).
.PARAMETER Force
    Rebuild even when the stamp matches (e.g. to pick up a newer kernel package).
.EXAMPLE
    dotnet pwsh build/images/Build-TinyImage.ps1
#>
[CmdletBinding()]
param(
    [string] $Destination,
    [switch] $Force
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

# ---------------------------------------------------------------- the recipe
$ImageName         = 'tiny'
$KernelMetaPackage = 'linux-image-cloud-amd64'
$BusyboxPath       = '/bin/busybox'                     # from busybox-static
$GuestAgentPath    = '/usr/sbin/qemu-ga'                # from qemu-guest-agent (dynamically linked)
# Loaded by /init with insmod in this order (there is no modprobe metadata in the image).
$Modules = @(
    'virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
    'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'fuse', 'virtiofs', 'virtio_console',
    'button', 'evdev')
$CommandLine = 'console=ttyS0 panic=-1 quiet'
$ReadyLine   = 'myhv-guest: ready'
# The root disk depends on these only (never on the init): existing VMs' overlays sit on it, so a
# rebuild must give the same bytes. Bump DiskVersion only knowing that it breaks existing VMs' disks.
$DiskVersion = 1
$DiskSize    = '64M'
$DiskLabel   = 'myhv-data'
$DiskUuid    = '6d796876-7469-4e79-8000-000000000001'
$DiskHashSeed = '6d796876-7469-4e79-8000-000000000002'
$FixedEpoch  = 1700000000                              # mtimes inside initrd and disk

$RecipeDir = Join-Path $PSScriptRoot $ImageName       # copied as-is into the initramfs root

# ---------------------------------------------------------------- helpers
function Get-XdgDir([string] $Variable, [string] $Fallback) {
    $value = [Environment]::GetEnvironmentVariable($Variable)
    if ($value) { return $value }
    return Join-Path ([Environment]::GetFolderPath('UserProfile')) $Fallback
}

function Get-RecipeStamp {
    # sha256 over (relative path, sha256 of content) of this script and every file under tiny/.
    $files = @(Get-Item -LiteralPath $PSCommandPath) +
             @(Get-ChildItem -LiteralPath $RecipeDir -Recurse -File -Force)
    $lines = foreach ($f in $files) {
        $rel = [IO.Path]::GetRelativePath($PSScriptRoot, $f.FullName).Replace('\', '/')
        $hash = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([IO.File]::ReadAllBytes($f.FullName)))
        "$hash  $rel"
    }
    $text = (@($lines) | Sort-Object -CaseSensitive) -join "`n"
    return [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($text))).ToLowerInvariant()
}

function Test-ImageCurrent([string] $Folder, [string] $Stamp) {
    foreach ($name in 'image.json', 'vmlinuz', 'initrd.img', 'rootfs.ext4', 'recipe.sha256') {
        if (-not [IO.File]::Exists((Join-Path $Folder $name))) { return $false }
    }
    return ([IO.File]::ReadAllText((Join-Path $Folder 'recipe.sha256')).Trim() -eq $Stamp)
}

function Invoke-Tool {
    # Runs a program with an argument list (never a shell string). Returns its stdout lines, or
    # copies its stdout bytes to -StdoutPath. Fails with the program's output on a non-zero exit.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $WorkingDirectory,
        [string] $StdinText,
        [string] $StdoutPath,
        [switch] $Gzip,
        [hashtable] $Environment = @{}
    )
    $psi = [Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.WorkingDirectory = if ($WorkingDirectory) { $WorkingDirectory } else { (Get-Location -PSProvider FileSystem).ProviderPath }
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string] $Environment[$k] }
    Write-Verbose "$FilePath $($ArgumentList -join ' ')"
    $p = [Diagnostics.Process]::Start($psi)
    try {
        $stderrTask = $p.StandardError.ReadToEndAsync()
        $stdinBytes = [Text.Encoding]::UTF8.GetBytes([string] $StdinText)
        $stdinTask = $p.StandardInput.BaseStream.WriteAsync($stdinBytes, 0, $stdinBytes.Length)
        $stdout = $null
        if ($StdoutPath) {
            $file = [IO.File]::Create($StdoutPath)
            try {
                $sink = if ($Gzip) { [IO.Compression.GZipStream]::new($file, [IO.Compression.CompressionLevel]::SmallestSize, $true) } else { $file }
                $copyTask = $p.StandardOutput.BaseStream.CopyToAsync($sink)
                $stdinTask.Wait(); $p.StandardInput.Close()
                $copyTask.Wait()
                if ($Gzip) { $sink.Dispose() }
            } finally { $file.Dispose() }
        } else {
            $stdoutTask = $p.StandardOutput.ReadToEndAsync()
            $stdinTask.Wait(); $p.StandardInput.Close()
            $stdout = $stdoutTask.Result
        }
        $p.WaitForExit()
        $stderr = $stderrTask.Result
        if ($p.ExitCode -ne 0) {
            throw "$FilePath $($ArgumentList -join ' ') exited with $($p.ExitCode): $stderr$stdout".Trim()
        }
        if ($stderr) { Write-Verbose $stderr.TrimEnd() }
        if ($null -ne $stdout) { return , @($stdout -split "`n" | Where-Object { $_ -ne '' }) }
    } finally { $p.Dispose() }
}

function Test-IsRoot { (Invoke-Tool id @('-u'))[0] -eq '0' }

function Resolve-KernelPackage {
    # The metapackage's candidate depends on exactly one real kernel package: "name (= version)".
    $show = $null
    try { $show = Invoke-Tool apt-cache @('show', '--no-all-versions', $KernelMetaPackage) } catch { $show = $null }
    if (-not $show) {
        if (-not (Test-IsRoot)) {
            throw "apt knows no package $KernelMetaPackage (empty apt lists?). Run as root: apt-get update"
        }
        Write-Host "tiny image: apt-get update"
        $null = Invoke-Tool apt-get @('update', '-qq') -Environment @{ DEBIAN_FRONTEND = 'noninteractive' }
        $show = Invoke-Tool apt-cache @('show', '--no-all-versions', $KernelMetaPackage)
    }
    $depends = @($show | Where-Object { $_ -like 'Depends:*' })[0]
    if ($depends -notmatch '(?<name>linux-image-[0-9][^\s,(]*-cloud-amd64)\s*\(=\s*(?<version>[^)\s]+)\)') {
        throw "Cannot find the real kernel package in '$depends' of $KernelMetaPackage"
    }
    return [pscustomobject]@{ Name = $Matches.name; Version = $Matches.version }
}

function Get-KernelDeb($Package) {
    # Downloads the kernel package into the cache once; a finished download is renamed into place.
    $cache = Join-Path (Get-XdgDir 'XDG_CACHE_HOME' '.cache') 'myhypervisor/debs'
    $null = [IO.Directory]::CreateDirectory($cache)
    $file = "$($Package.Name)_$($Package.Version.Replace(':', '%3a'))_amd64.deb"
    $path = Join-Path $cache $file
    if ([IO.File]::Exists($path)) { return $path }

    $incoming = Join-Path $cache ".incoming-$PID"
    $null = [IO.Directory]::CreateDirectory($incoming)
    try {
        $spec = "$($Package.Name)=$($Package.Version)"
        Write-Host "tiny image: apt-get download $spec"
        try {
            $null = Invoke-Tool apt-get @('download', '-q', $spec) -WorkingDirectory $incoming
        } catch {
            if (-not (Test-IsRoot)) { throw }
            # Stale lists (the mirror dropped that version): refresh once and resolve again.
            $null = Invoke-Tool apt-get @('update', '-qq') -Environment @{ DEBIAN_FRONTEND = 'noninteractive' }
            $Package = Resolve-KernelPackage
            $file = "$($Package.Name)_$($Package.Version.Replace(':', '%3a'))_amd64.deb"
            $path = Join-Path $cache $file
            $null = Invoke-Tool apt-get @('download', '-q', "$($Package.Name)=$($Package.Version)") -WorkingDirectory $incoming
        }
        $downloaded = Join-Path $incoming $file
        if (-not [IO.File]::Exists($downloaded)) { throw "apt-get download did not produce $file" }
        [IO.File]::Move($downloaded, $path, $true)
    } finally {
        [IO.Directory]::Delete($incoming, $true)
    }
    return $path
}

function Copy-KernelModule([string] $Source, [string] $Target) {
    # Modules may ship compressed (.ko.xz / .ko.zst / .ko.gz); busybox insmod wants them plain.
    switch -Regex ($Source) {
        '\.ko$'     { [IO.File]::Copy($Source, $Target, $true) }
        '\.ko\.xz$' { $null = Invoke-Tool $BusyboxPath @('xz', '-dc', $Source) -StdoutPath $Target }
        '\.ko\.zst$' { $null = Invoke-Tool zstd @('-q', '-d', '-c', $Source) -StdoutPath $Target }
        '\.ko\.gz$' {
            $in = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($Source), [IO.Compression.CompressionMode]::Decompress)
            $out = [IO.File]::Create($Target)
            try { $in.CopyTo($out) } finally { $out.Dispose(); $in.Dispose() }
        }
        default { throw "Unknown module format: $Source" }
    }
}

function Set-FixedTimes([string] $Root) {
    $t = [DateTimeOffset]::FromUnixTimeSeconds($FixedEpoch).UtcDateTime
    foreach ($e in Get-ChildItem -LiteralPath $Root -Recurse -Force) { $e.LastWriteTimeUtc = $t; $e.LastAccessTimeUtc = $t }
    $r = Get-Item -LiteralPath $Root; $r.LastWriteTimeUtc = $t; $r.LastAccessTimeUtc = $t
}

function Copy-GuestAgent([string] $Staging) {
    # qemu-ga links glib and friends: copy each library ldd resolves (the file, under the path the
    # loader looks for) and the loader itself, at the same paths as on the host.
    [IO.File]::Copy($GuestAgentPath, (Join-Path $Staging 'usr/sbin/qemu-ga'))
    foreach ($line in (Invoke-Tool ldd @($GuestAgentPath))) {
        $path = if ($line -match '=>\s*(?<p>/\S+)') { $Matches.p } elseif ($line -match '^\s*(?<p>/\S+)') { $Matches.p } else { $null }
        if (-not $path) { continue }     # linux-vdso: provided by the kernel
        $real = (Get-Item -LiteralPath $path).ResolveLinkTarget($true)
        $source = if ($real) { $real.FullName } else { $path }
        $target = Join-Path $Staging $path.TrimStart('/')
        $null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($target))
        [IO.File]::Copy($source, $target, $true)
    }
}

function New-Initramfs([string] $KernelRoot, [string] $KernelVersion, [string] $Staging, [string] $OutFile) {
    foreach ($d in 'bin', 'sbin', 'dev', 'proc', 'sys', 'run', 'tmp', 'mnt', 'data', 'etc', 'lib/modules', 'usr/bin', 'usr/sbin') {
        $null = [IO.Directory]::CreateDirectory((Join-Path $Staging $d))
    }
    # Only busybox itself: /init installs its applet links at boot (no symlinks in the archive).
    [IO.File]::Copy($BusyboxPath, (Join-Path $Staging 'bin/busybox'))
    Copy-GuestAgent $Staging

    $moduleDir = @('lib', 'usr/lib') | ForEach-Object { Join-Path $KernelRoot "$_/modules/$KernelVersion" } |
        Where-Object { [IO.Directory]::Exists($_) } | Select-Object -First 1
    if (-not $moduleDir) { throw "No modules for $KernelVersion in the kernel package" }
    $available = @{}
    foreach ($f in Get-ChildItem -LiteralPath $moduleDir -Recurse -File -Include '*.ko', '*.ko.xz', '*.ko.zst', '*.ko.gz') {
        $available[($f.Name -replace '\.ko(\.(xz|zst|gz))?$', '').Replace('-', '_')] = $f.FullName
    }
    foreach ($m in $Modules) {
        if (-not $available.ContainsKey($m)) { Write-Host "tiny image: module $m is not in the package (built in?), skipped"; continue }
        Copy-KernelModule $available[$m] (Join-Path $Staging "lib/modules/$m.ko")
    }

    # The guest's own files: init, acpid configuration and handler.
    foreach ($f in Get-ChildItem -LiteralPath $RecipeDir -Recurse -File -Force) {
        $rel = [IO.Path]::GetRelativePath($RecipeDir, $f.FullName)
        $target = Join-Path $Staging $rel
        $null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($target))
        [IO.File]::Copy($f.FullName, $target, $true)
    }
    $exec = [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    $plain = [IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead'
    foreach ($f in Get-ChildItem -LiteralPath $Staging -Recurse -File -Force) {
        $isProgram = $false
        $s = [IO.File]::OpenRead($f.FullName)
        try {
            $b0 = $s.ReadByte(); $b1 = $s.ReadByte()
            # '#!' scripts and ELF files (the agent, its loader and libraries: the loader must be executable).
            $isProgram = ($b0 -eq 0x23 -and $b1 -eq 0x21) -or ($b0 -eq 0x7f -and $b1 -eq 0x45)
        } finally { $s.Dispose() }
        $mode = if ($isProgram) { $exec } else { $plain }
        [IO.File]::SetUnixFileMode($f.FullName, $mode)
    }
    foreach ($d in Get-ChildItem -LiteralPath $Staging -Recurse -Directory -Force) { [IO.File]::SetUnixFileMode($d.FullName, $exec) }
    [IO.File]::SetUnixFileMode((Join-Path $Staging 'tmp'), ($exec -bor [IO.UnixFileMode]'StickyBit, GroupWrite, OtherWrite'))
    Set-FixedTimes $Staging

    # Sorted list, owner root, renumbered inodes, fixed times, gzip without a timestamp: reproducible.
    $entries = Get-ChildItem -LiteralPath $Staging -Recurse -Force |
        ForEach-Object { [IO.Path]::GetRelativePath($Staging, $_.FullName) } | Sort-Object -CaseSensitive
    $list = (@('.') + @($entries)) -join "`n"
    $null = Invoke-Tool $BusyboxPath @('cpio', '-o', '-H', 'newc', '-R', '0:0', '--renumber-inodes', '--ignore-devno') `
        -WorkingDirectory $Staging -StdinText "$list`n" -StdoutPath $OutFile -Gzip
}

function New-RootDisk([string] $Staging, [string] $OutFile) {
    $null = [IO.Directory]::CreateDirectory((Join-Path $Staging 'etc'))
    [IO.File]::WriteAllText((Join-Path $Staging 'etc/myhv-image-version'),
        "myhypervisor image $ImageName, disk version $DiskVersion`n")
    Set-FixedTimes $Staging
    $envFake = @{ E2FSPROGS_FAKE_TIME = "$FixedEpoch" }
    $null = Invoke-Tool mkfs.ext4 @('-q', '-F', '-L', $DiskLabel, '-U', $DiskUuid,
        '-E', "hash_seed=$DiskHashSeed,root_owner=0:0", '-d', $Staging, $OutFile, $DiskSize) -Environment $envFake
    # mkfs copies each inode's ctime (which cannot be set on the host) from the source: pin them.
    $paths = @('/') + @(Get-ChildItem -LiteralPath $Staging -Recurse -Force |
        ForEach-Object { '/' + [IO.Path]::GetRelativePath($Staging, $_.FullName) } | Sort-Object -CaseSensitive)
    $cmds = foreach ($p in $paths) { foreach ($field in 'atime', 'mtime', 'ctime', 'crtime') { "sif `"$p`" $field @$FixedEpoch" } }
    $null = Invoke-Tool debugfs @('-w', '-f', '-', $OutFile) -StdinText (($cmds -join "`n") + "`n") -Environment $envFake
    $null = Invoke-Tool e2fsck @('-f', '-n', $OutFile)
}

# ---------------------------------------------------------------- main
if (-not $Destination) {
    $Destination = Join-Path (Get-XdgDir 'XDG_DATA_HOME' '.local/share') "myhypervisor/images/$ImageName"
}
$Destination = [IO.Path]::GetFullPath($Destination)
$stamp = Get-RecipeStamp
if (-not $Force -and (Test-ImageCurrent $Destination $stamp)) {
    Write-Verbose "Image '$ImageName' is current: $Destination"
    return
}

$parent = [IO.Path]::GetDirectoryName($Destination)
$leaf = [IO.Path]::GetFileName($Destination)
$null = [IO.Directory]::CreateDirectory($parent)

# One builder at a time per destination; the others wait, then find the image current.
$lockPath = Join-Path $parent ".$leaf.lock"
$lock = $null
$deadline = [DateTime]::UtcNow.AddMinutes(10)
while (-not $lock) {
    try { $lock = [IO.File]::Open($lockPath, 'OpenOrCreate', 'ReadWrite', 'None') }
    catch [IO.IOException] {
        if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out waiting for $lockPath (another image build?)" }
        Start-Sleep -Milliseconds 250
    }
}
try {
    if (-not $Force -and (Test-ImageCurrent $Destination $stamp)) { return }
    # Leftovers of builds that died (we hold the lock: nobody else is building).
    foreach ($stale in [IO.Directory]::GetDirectories($parent, ".$leaf.*")) { [IO.Directory]::Delete($stale, $true) }

    $sw = [Diagnostics.Stopwatch]::StartNew()
    $temp = Join-Path $parent ".$leaf.tmp-$PID"
    $work = Join-Path $parent ".$leaf.work-$PID"
    $null = [IO.Directory]::CreateDirectory($temp)
    $null = [IO.Directory]::CreateDirectory($work)
    try {
        foreach ($tool in $BusyboxPath, $GuestAgentPath, '/usr/sbin/mkfs.ext4', '/usr/bin/dpkg-deb') {
            if (-not [IO.File]::Exists($tool)) { throw "Missing $tool (packages busybox-static, qemu-guest-agent, e2fsprogs, dpkg)" }
        }
        $package = Resolve-KernelPackage
        $deb = Get-KernelDeb $package
        $package = [pscustomobject]@{
            Name    = (Invoke-Tool dpkg-deb @('-f', $deb, 'Package'))[0]
            Version = (Invoke-Tool dpkg-deb @('-f', $deb, 'Version'))[0]
        }
        Write-Host "tiny image: building from $($package.Name) $($package.Version)"
        $kernelRoot = Join-Path $work 'kernel'
        $null = Invoke-Tool dpkg-deb @('-x', $deb, $kernelRoot)

        $vmlinuz = @(Get-ChildItem -LiteralPath (Join-Path $kernelRoot 'boot') -Filter 'vmlinuz-*' -File)
        if ($vmlinuz.Count -ne 1) { throw "Expected one boot/vmlinuz-* in $deb, found $($vmlinuz.Count)" }
        $kernelVersion = $vmlinuz[0].Name.Substring('vmlinuz-'.Length)
        [IO.File]::Copy($vmlinuz[0].FullName, (Join-Path $temp 'vmlinuz'))

        New-Initramfs $kernelRoot $kernelVersion (Join-Path $work 'initramfs') (Join-Path $temp 'initrd.img')

        # The disk: keep the very file of the previous image when its recipe is the same (VMs'
        # overlays sit on it), else build it (deterministically).
        $oldDisk = Join-Path $Destination 'rootfs.ext4'
        $oldDiskVersion = $null
        try { $oldDiskVersion = (Get-Content -Raw -LiteralPath (Join-Path $Destination 'image.json') | ConvertFrom-Json).DiskVersion } catch { }
        if ($oldDiskVersion -eq $DiskVersion -and [IO.File]::Exists($oldDisk)) {
            $null = Invoke-Tool ln @('--', $oldDisk, (Join-Path $temp 'rootfs.ext4'))
        } else {
            New-RootDisk (Join-Path $work 'rootfs') (Join-Path $temp 'rootfs.ext4')
        }

        $image = [ordered]@{
            Name          = $ImageName
            Kernel        = 'vmlinuz'
            Initrd        = 'initrd.img'
            Disk          = 'rootfs.ext4'
            DiskFormat    = 'raw'
            CommandLine   = $CommandLine
            ReadyLine     = $ReadyLine
            # The init starts qemu-ga on the virtio-serial port org.qemu.guest_agent.0.
            GuestAgent    = $true
            KernelVersion = $kernelVersion
            KernelPackage = "$($package.Name) $($package.Version)"
            DiskVersion   = $DiskVersion
            Built         = [DateTimeOffset]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
        }
        [IO.File]::WriteAllText((Join-Path $temp 'image.json'), ($image | ConvertTo-Json) + "`n")
        [IO.File]::WriteAllText((Join-Path $temp 'recipe.sha256'), "$stamp`n")

        # Into place: the old folder goes aside, the new one is renamed in, the old one is removed.
        $old = Join-Path $parent ".$leaf.old-$PID"
        if ([IO.Directory]::Exists($Destination)) { [IO.Directory]::Move($Destination, $old) }
        [IO.Directory]::Move($temp, $Destination)
        if ([IO.Directory]::Exists($old)) { [IO.Directory]::Delete($old, $true) }
        Write-Host "tiny image: $Destination ($kernelVersion, $([int]$sw.Elapsed.TotalSeconds) s)"
    } finally {
        foreach ($d in $work, $temp) { if ([IO.Directory]::Exists($d)) { [IO.Directory]::Delete($d, $true) } }
    }
} finally {
    $lock.Dispose()
}
