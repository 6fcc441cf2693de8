<#
Issue 5, host volumes over virtiofs. One VM boots with a read-write volume (given as a hashtable)
and a read-only one (given as a typed VmVolume); each carries a myhv-boot.sh that the guest runs at
boot, printing its output on the console as 'myhv-boot: <line>'.
QEMU's C virtiofsd has no read-only export: the module enforces a read-only volume on the host with
a read-only bind mount of the folder under the VM's runtime dir (run/<vm>/ro-<tag>), a ledger
artifact. The last block checks that this mount is gone after a stop, after QEMU is killed, after a
start killed at start.volumes and after Repair-MyVm's orphan sweep, that the Directory undo never
deletes through a mount, and that the user's shared folder is intact after all of it.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite

    $script:shares = New-MyHvTestDir -Prefix 'mhS'
    $script:rwDir = Join-Path $script:shares 'rw'
    $script:roDir = Join-Path $script:shares 'ro'
    $null = New-Item -ItemType Directory -Path $script:rwDir, $script:roDir

    # Fresh tokens: nothing but this run's host file and guest can produce them.
    $script:hostToken = 'from-host-' + [guid]::NewGuid().ToString('N')
    $script:guestToken = 'from-guest-' + [guid]::NewGuid().ToString('N')
    Set-Content -LiteralPath (Join-Path $script:rwDir 'host.txt') -Value $script:hostToken -NoNewline
    Set-Content -LiteralPath (Join-Path $script:rwDir 'myhv-boot.sh') -NoNewline -Value @"
echo "read: `$(cat host.txt)"
if echo $($script:guestToken) > guest.txt; then echo rw-write-ok; else echo rw-write-failed; fi

"@
    Set-Content -LiteralPath (Join-Path $script:roDir 'myhv-boot.sh') -NoNewline -Value @'
if echo x > refused.txt; then echo ro-write-succeeded; else echo ro-write-refused; fi
# A guest's root can remount its side read-write; the host must still refuse.
if mount -o remount,rw "$MYHV_VOLUME"; then echo ro-remount-rw-ok; else echo ro-remount-rw-failed; fi
if echo x > refused2.txt; then echo ro-write-after-remount-succeeded; else echo ro-write-after-remount-refused; fi

'@

    # Files that every teardown must leave alone (nested, so a recursive delete would reach them).
    $null = New-Item -ItemType Directory -Path (Join-Path $script:roDir 'keep/deeper')
    Set-Content -LiteralPath (Join-Path $script:roDir 'keep/a.txt') -Value ('keep-' + [guid]::NewGuid().ToString('N')) -NoNewline
    Set-Content -LiteralPath (Join-Path $script:roDir 'keep/deeper/b.txt') -Value ('deeper-' + [guid]::NewGuid().ToString('N')) -NoNewline

    # Relative path and SHA-256 of every file under a folder, sorted: equal lists mean nothing was lost or changed.
    function Get-FolderManifest([string] $Path) {
        @(Get-ChildItem -LiteralPath $Path -Recurse -File -Force | Sort-Object FullName | ForEach-Object {
                '{0} {1}' -f $_.FullName.Substring($Path.Length), (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash
            })
    }

    # This process's mounts (mount namespace of the host, where the module mounts): MountPoint, Root, Options.
    function Get-HostMount {
        foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
            $f = $line.Split(' ')
            $unescape = { param($t) [regex]::Replace($t, '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) }) }
            [pscustomobject]@{ MountPoint = (& $unescape $f[4]); Root = (& $unescape $f[3]); Options = $f[5] }
        }
    }

    # Field 6 of /proc/<pid>/stat (the session id).
    function Get-SessionId([int] $ProcessId) {
        $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
        [int] $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[3]
    }


    $script:roManifest = Get-FolderManifest $script:roDir
    $script:roManifest.Count | Should -Be 3
    $script:roMountPoint = Join-Path $script:testHome 'run/vols/ro-rodata'

    $typed = [MyHypervisor.Core.Vms.VmVolume]::new()
    $typed.Path = $script:roDir
    $typed.Tag = 'rodata'
    $typed.ReadOnly = $true
    $script:vm = New-MyVm -Name 'vols' -Network None -Volume @(@{ Path = $script:rwDir; Tag = 'rwdata' }, $typed)
    Start-MyVm -Name 'vols' -Wait -TimeoutSeconds 120

    # What runs while the VM is up.
    $script:running = Get-MyVm -Name 'vols'
    $run = Join-Path $script:testHome 'run/vols'
    $script:rwSocket = Join-Path $run 'fs-rwdata.sock'
    $script:roSocket = Join-Path $run 'fs-rodata.sock'
    $script:rwDaemons = Get-MyHvVirtiofsd -SocketPath $script:rwSocket
    $script:roDaemons = Get-MyHvVirtiofsd -SocketPath $script:roSocket
    $script:locksWhileRunning = Get-MyHvVirtiofsdLockFile -Home $script:testHome
    $script:socketsWhileRunning = Get-MyHvSocketFile -Path $run
    $script:qemuCmd = [System.IO.File]::ReadAllText("/proc/$($script:running.Pid)/cmdline").Split([char] 0)
    $script:rustReadOnly = [bool] ($script:roDaemons | Where-Object CommandLine -Match '--readonly')
    $script:roServedFrom = if ($script:rustReadOnly) { $script:roDir } else { $script:roMountPoint }
    $script:hostMountsWhileRunning = @(Get-HostMount)
    $top = @($script:roDaemons | Where-Object { $_.ParentPid -notin $script:roDaemons.Pid })
    $script:roPidFile = Join-Path $run 'fs-rodata.pid'
    $script:roPidFileContent = if (Test-Path -LiteralPath $script:roPidFile) { (Get-Content -LiteralPath $script:roPidFile -Raw).Trim() } else { $null }
    $script:roTopPid = if ($top.Count -eq 1) { $top[0].Pid } else { $null }
    $script:roTopSession = if ($top.Count -eq 1) { Get-SessionId $top[0].Pid } else { $null }
    $script:console = @(Get-MyVmConsole -Name 'vols')

    $script:stopped = Stop-MyVm -Name 'vols' -PassThru
    $script:hostMountsAfterStop = @(Get-HostMount)
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
    if ($script:shares) { Remove-Item -LiteralPath $script:shares -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Volumes over virtiofs' {
    It 'accepts a hashtable and a typed VmVolume, and the guest mounts each tag under /mnt' {
        $script:running.Status | Should -Be 'Running'
        $script:running.Volumes.Count | Should -Be 2
        ($script:running.Volumes | Where-Object Tag -EQ 'rwdata').ReadOnly | Should -BeFalse
        ($script:running.Volumes | Where-Object Tag -EQ 'rodata').ReadOnly | Should -BeTrue
        $script:console | Should -Contain 'myhv-guest: volume rwdata rw at /mnt/rwdata'
        $script:console | Should -Contain 'myhv-guest: volume rodata ro at /mnt/rodata'
    }

    It 'runs one virtiofsd per volume with its socket in the runtime dir and QEMU on a shared memory backend' {
        $script:rwDaemons.Count | Should -BeGreaterThan 0
        $script:roDaemons.Count | Should -BeGreaterThan 0
        @($script:rwDaemons | Where-Object CommandLine -NotLike "*source=$($script:rwDir)*") | Should -BeNullOrEmpty
        # The C daemon serves the read-only bind mount of the folder (run/vols/ro-rodata); a Rust one the folder itself.
        @($script:roDaemons | Where-Object CommandLine -NotLike "*source=$($script:roServedFrom) *") | Should -BeNullOrEmpty
        $script:socketsWhileRunning | Should -Contain $script:rwSocket
        $script:socketsWhileRunning | Should -Contain $script:roSocket
        $script:locksWhileRunning.Count | Should -Be 2
        ($script:qemuCmd -join ' ') | Should -Match 'memory-backend-memfd,id=mem0,size=256M,share=on'
        $script:qemuCmd | Should -Contain "socket,id=fs0,path=$($script:rwSocket)"
        ($script:qemuCmd -join ' ') | Should -Match 'vhost-user-fs-pci,chardev=fs\d,tag=rodata'
    }

    It 'starts each virtiofsd detached, in a session of its own, with a pid file naming the daemon itself' {
        $script:roTopPid | Should -Not -BeNullOrEmpty
        $script:roPidFileContent | Should -Be "$($script:roTopPid)" -Because 'start-stop-daemon --make-pidfile writes the pid that execs virtiofsd'
        $script:roTopSession | Should -Not -BeNullOrEmpty
        $script:roTopSession | Should -Not -Be (Get-SessionId $PID) -Because 'the daemon must not share the session of the process that started it'
        $script:roDaemons[0].CommandLine | Should -Match '--socket-path='
    }

    It 'lets the guest read a file the host wrote before start' {
        $script:console | Should -Contain "myhv-boot: read: $($script:hostToken)"
    }

    It 'shows the host a file the guest wrote' {
        $script:console | Should -Contain 'myhv-boot: rw-write-ok'
        $file = Join-Path $script:rwDir 'guest.txt'
        Test-Path -LiteralPath $file | Should -BeTrue
        (Get-Content -LiteralPath $file -Raw).Trim() | Should -Be $script:guestToken
    }

    It 'refuses the guest a write to the read-only volume' {
        $script:console | Should -Contain 'myhv-boot: ro-write-refused'
        @($script:console | Where-Object { $_ -like 'myhv-boot: *refused.txt*Read-only file system*' }) | Should -Not -BeNullOrEmpty
        $script:console | Should -Not -Contain 'myhv-boot: ro-write-succeeded'
        Test-Path -LiteralPath (Join-Path $script:roDir 'refused.txt') | Should -BeFalse
    }

    It 'enforces read-only on the host: a guest that remounts its side read-write still cannot write' {
        # The guest-side remount works (a guest's root can always do that) ...
        $script:console | Should -Contain 'myhv-boot: ro-remount-rw-ok'
        # ... and the write still fails, because the host side is read-only.
        $script:console | Should -Contain 'myhv-boot: ro-write-after-remount-refused'
        Test-Path -LiteralPath (Join-Path $script:roDir 'refused2.txt') | Should -BeFalse
        if (-not $script:rustReadOnly) {
            # QEMU's C virtiofsd has no read-only export: it serves a read-only bind mount of the
            # folder, made on the host under the VM's runtime dir (see the next block).
            $mount = @($script:hostMountsWhileRunning | Where-Object MountPoint -EQ $script:roMountPoint)
            $mount.Count | Should -Be 1
            $mount[0].Options | Should -Match '^ro(,|$)'
        }
        @($script:hostMountsWhileRunning | Where-Object MountPoint -EQ $script:roDir) | Should -BeNullOrEmpty -Because 'the folder itself is never remounted'
        Get-FolderManifest $script:roDir | Should -Be $script:roManifest
    }

    It 'leaves no virtiofsd, socket or lock file after stop' {
        $script:stopped.Status | Should -Be 'Stopped'
        $script:stopped.StopMethod | Should -Be 'GuestPowerOff'
        @(Get-MyHvVirtiofsd -SocketPath $script:rwSocket) | Should -BeNullOrEmpty
        @(Get-MyHvVirtiofsd -SocketPath $script:roSocket) | Should -BeNullOrEmpty
        @(Get-MyHvVirtiofsdLockFile -Home $script:testHome) | Should -BeNullOrEmpty
        @(Get-MyHvSocketFile -Path $script:testHome) | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
    }
}

Describe 'The read-only bind mount of a read-only volume' {
    BeforeAll {
        function Get-RoMount { @(Get-HostMount | Where-Object MountPoint -EQ $script:roMountPoint) }
        function Assert-RunGone {
            Get-RoMount | Should -BeNullOrEmpty
            Test-Path -LiteralPath (Join-Path $script:testHome 'run/vols') | Should -BeFalse
            Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
            Get-FolderManifest $script:roDir | Should -Be $script:roManifest -Because "the user's shared folder must be intact"
            (Get-Content -LiteralPath (Join-Path $script:rwDir 'host.txt') -Raw) | Should -Be $script:hostToken
        }
    }

    It 'exists on the host during the run (read-only, of the shared folder) and is gone after stop' {
        # A Rust virtiofsd exports read-only itself (--readonly): no mount is made, nothing of this applies.
        if ($script:rustReadOnly) { Set-ItResult -Skipped -Because 'a Rust virtiofsd with --readonly serves read-only volumes without a mount'; return }
        $mount = @($script:hostMountsWhileRunning | Where-Object MountPoint -EQ $script:roMountPoint)
        $mount.Count | Should -Be 1
        $mount[0].Options | Should -Match '^ro(,|$)'
        $script:roDir.EndsWith($mount[0].Root) | Should -BeTrue -Because "the mount shows the folder $($script:roDir) (root $($mount[0].Root))"
        @($script:hostMountsAfterStop | Where-Object { $_.MountPoint.StartsWith("$($script:testHome)/") }) | Should -BeNullOrEmpty
        $script:stopped.Status | Should -Be 'Stopped'
        Assert-RunGone
    }

    It 'is unmounted when QEMU is killed (SIGKILL) and Get-MyVm tears the run down' {
        # A Rust virtiofsd exports read-only itself (--readonly): no mount is made, nothing of this applies.
        if ($script:rustReadOnly) { Set-ItResult -Skipped -Because 'a Rust virtiofsd with --readonly serves read-only volumes without a mount'; return }
        Start-MyVm -Name 'vols' -ErrorAction Stop
        $vm = Get-MyVm -Name 'vols'
        $vm.Status | Should -Be 'Running'
        (Get-RoMount).Count | Should -Be 1

        # SIGKILL; QEMU is gone once no thread of it is left (a SIGKILLed leader is a zombie while its other threads tear down).
        Stop-MyHvProcess -ProcessId $vm.Pid -TimeoutSeconds 30
        $null = Assert-MyHvVmDied -Name 'vols'
        Test-MyHvEventually -TimeoutSeconds 30 { @(Get-MyHvVirtiofsd -SocketPath $script:roSocket).Count -eq 0 } | Should -BeTrue
        Assert-RunGone
    }

    It 'is unmounted by the rollback of a start killed at start.volumes (another process recovers it)' {
        # A Rust virtiofsd exports read-only itself (--readonly): no mount is made, nothing of this applies.
        if ($script:rustReadOnly) { Set-ItResult -Skipped -Because 'a Rust virtiofsd with --readonly serves read-only volumes without a mount'; return }
        $killed = Invoke-MyHvChild -Environment @{ MYHV_FAILPOINTS = 'start.volumes=kill' } -Body @"
'MHSTEP starting'
Start-MyVm -Name 'vols'
`$r.Survived = `$true
"@
        $killed.Result | Should -BeNullOrEmpty -Because "the child must die at the fail point: $($killed.Output -join "`n")"
        $killed.Output | Should -Contain 'MHSTEP starting'
        # The kill came after the step's artifacts existed: the mount is there, and nothing has cleaned up yet.
        (Get-RoMount).Count | Should -Be 1
        (Get-RoMount)[0].Options | Should -Match '^ro(,|$)'
        Test-Path -LiteralPath (Join-Path $script:testHome 'vms/vols/start.journal') | Should -BeTrue

        $vm = Get-MyVm -Name 'vols'
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match "interrupted at step 'volumes'"
        Assert-RunGone
    }

    It 'is unmounted by Repair-MyVm when no record names it (orphan sweep of the runtime folder), before the folder is deleted' {
        # A Rust virtiofsd exports read-only itself (--readonly): no mount is made, nothing of this applies.
        if ($script:rustReadOnly) { Set-ItResult -Skipped -Because 'a Rust virtiofsd with --readonly serves read-only volumes without a mount'; return }
        (Get-MyVm -Name 'vols').Status | Should -Not -Be 'Running'
        # An orphan: a writable bind mount of the user's folder in the runtime folder, named by no
        # ledger (as if the record had been lost). Deleting the folder through it would delete the user's files.
        $run = Join-Path $script:testHome 'run/vols'
        $null = New-Item -ItemType Directory -Path $script:roMountPoint -Force
        Set-Content -LiteralPath (Join-Path $run 'stale.txt') -Value 'stale'
        & mount --bind -- $script:roDir $script:roMountPoint
        $LASTEXITCODE | Should -Be 0
        try {
            (Get-RoMount).Count | Should -Be 1
            Test-Path -LiteralPath (Join-Path $script:roMountPoint 'keep/a.txt') | Should -BeTrue

            $repair = Repair-MyVm -Name 'vols'
            $repair.Removed | Should -Contain "read-only bind mount $($script:roMountPoint)"
            $repair.Removed | Should -Contain "directory $run"
            @($repair.Leftovers) | Should -BeNullOrEmpty
            Assert-RunGone
        }
        finally {
            while (@(Get-RoMount).Count -gt 0) { & umount -- $script:roMountPoint; if ($LASTEXITCODE -ne 0) { break } }
        }
    }

    It 'the next start after all of that works and its stop leaves nothing' {
        # A Rust virtiofsd exports read-only itself (--readonly): no mount is made, nothing of this applies.
        if ($script:rustReadOnly) { Set-ItResult -Skipped -Because 'a Rust virtiofsd with --readonly serves read-only volumes without a mount'; return }
        Start-MyVm -Name 'vols' -ErrorAction Stop
        (Get-RoMount).Count | Should -Be 1
        (Stop-MyVm -Name 'vols' -Force -PassThru).Status | Should -Be 'Stopped'
        Assert-RunGone
    }
}

Describe 'Cleanup never deletes through a mount' {
    It 'a Directory undo refuses (Failed) a tree that holds a mount point; the Mount undo unmounts it; then the tree goes; the mounted folder is intact' {
        # A writable bind mount, so that a delete through it would really remove the files.
        $sentinel = Join-Path $script:shares 'sentinel'
        $null = New-Item -ItemType Directory -Path (Join-Path $sentinel 'sub') -Force
        Set-Content -LiteralPath (Join-Path $sentinel 'one.txt') -Value 'one'
        Set-Content -LiteralPath (Join-Path $sentinel 'sub/two.txt') -Value 'two'
        $before = Get-FolderManifest $sentinel
        $tree = Join-Path $script:testHome 'guard'
        $mountPoint = Join-Path $tree 'inner/mnt'
        $null = New-Item -ItemType Directory -Path $mountPoint -Force
        Set-Content -LiteralPath (Join-Path $tree 'inner/own.txt') -Value 'own'
        & mount --bind -- $sentinel $mountPoint
        $LASTEXITCODE | Should -Be 0
        try {
            $dirRecord = [MyHypervisor.Core.Ledger.ArtifactRecord] @{ Seq = 1; Kind = 'Directory'; Step = 'test'; Path = $tree }
            $mountRecord = [MyHypervisor.Core.Ledger.ArtifactRecord] @{ Seq = 2; Kind = 'Mount'; Step = 'test'; Path = $mountPoint }

            $refused = [MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($dirRecord)
            "$($refused.Result)" | Should -Be 'Failed'
            $refused.Problem | Should -Match ([regex]::Escape($mountPoint))
            Get-FolderManifest $sentinel | Should -Be $before -Because 'nothing may be deleted through the mount'
            Test-Path -LiteralPath (Join-Path $tree 'inner/own.txt') | Should -BeTrue -Because 'the refusal deletes nothing at all'
            @(Get-HostMount | Where-Object MountPoint -EQ $mountPoint).Count | Should -Be 1

            # Newest first, as every cleanup runs: the mount, then the tree.
            $report = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll([MyHypervisor.Core.Ledger.ArtifactRecord[]] @($dirRecord, $mountRecord), $null)
            @($report.Outcomes | ForEach-Object { "$($_.Record.Kind):$($_.Result)" }) | Should -Be @('Mount:Removed', 'Directory:Removed')
            @(Get-HostMount | Where-Object MountPoint -EQ $mountPoint) | Should -BeNullOrEmpty
            Test-Path -LiteralPath $tree | Should -BeFalse
            Get-FolderManifest $sentinel | Should -Be $before

            # Idempotent: undoing again finds everything already gone.
            "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($mountRecord).Result)" | Should -Be 'AlreadyGone'
            "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($dirRecord).Result)" | Should -Be 'AlreadyGone'
        }
        finally {
            while (@(Get-HostMount | Where-Object MountPoint -EQ $mountPoint).Count -gt 0) { & umount -- $mountPoint; if ($LASTEXITCODE -ne 0) { break } }
            if ((Test-Path -LiteralPath $tree) -and -not @(Get-HostMount | Where-Object { $_.MountPoint.StartsWith("$tree/") })) {
                Remove-Item -LiteralPath $tree -Recurse -Force
            }
        }
    }
}

Describe 'A virtiofsd that dies at start' {
    It 'fails the start with VmStartFailed quoting the end of the daemon''s log, and rolls back its read-only mount' {
        # A virtiofsd on PATH is preferred over QEMU's; this one writes a fresh token to stderr and exits.
        $token = 'daemon-refused-' + [guid]::NewGuid().ToString('N')
        $bin = Join-Path $script:shares 'fakebin'
        $null = New-Item -ItemType Directory -Path $bin -Force
        $fake = Join-Path $bin 'virtiofsd'
        Set-Content -LiteralPath $fake -Value "#!/bin/sh`necho 'starting'`necho '$token' >&2`nexit 1`n"
        & chmod +x -- $fake
        New-MyVm -Name 'vdie' -Network None -Volume @{ Path = $script:roDir; Tag = 'rodata'; ReadOnly = $true } | Out-Null
        $savedPath = $env:PATH
        $err = $null
        try {
            $env:PATH = "${bin}:$savedPath"
            try { Start-MyVm -Name 'vdie' -ErrorAction Stop } catch { $err = $_ }
        }
        finally { $env:PATH = $savedPath }

        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'VmStartFailed*'
        "$err" | Should -Match "step 'volumes'"
        "$err" | Should -Match "virtiofsd for volume 'rodata' exited before it opened its socket: .*$token"
        (Get-MyVm -Name 'vdie').Status | Should -Be 'Failed'
        @(Get-HostMount | Where-Object { $_.MountPoint.StartsWith("$($script:testHome)/") }) | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:testHome 'run/vdie') | Should -BeFalse
        Get-MyHvLeftover -Home $script:testHome | Should -BeNullOrEmpty
        Get-FolderManifest $script:roDir | Should -Be $script:roManifest
        Remove-MyVm -Name 'vdie' -Force
    }
}
