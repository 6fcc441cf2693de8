<#
Issue 5, host volumes over virtiofs. One VM boots with a read-write volume (given as a hashtable)
and a read-only one (given as a typed VmVolume); each carries a myhv-boot.sh that the guest runs at
boot, printing its output on the console as 'myhv-boot: <line>'.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../Network/Issue5Helpers.psm1') -Force
    Import-MyHvTestModule | Out-Null
    $script:testHome = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'

    $base = if ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT)) { $env:MYHV_TEST_ROOT } else { '/tmp' }
    $script:shares = (& mktemp -d -p $base 'mhS-XXXXXX').Trim()
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
    $top = @($script:roDaemons | Where-Object { $_.ParentPid -notin $script:roDaemons.Pid })
    $script:roMountInfo = if ($top.Count -eq 1) { @(Get-Content -LiteralPath "/proc/$($top[0].Pid)/mountinfo") } else { @() }
    $script:console = @(Get-MyVmConsole -Name 'vols')

    $script:stopped = Stop-MyVm -Name 'vols' -PassThru
}

AfterAll {
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    Assert-MyHvNoLeftovers -Home $script:testHome
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
        @($script:roDaemons | Where-Object CommandLine -NotLike "*source=$($script:roDir)*") | Should -BeNullOrEmpty
        $script:socketsWhileRunning | Should -Contain $script:rwSocket
        $script:socketsWhileRunning | Should -Contain $script:roSocket
        $script:locksWhileRunning.Count | Should -Be 2
        ($script:qemuCmd -join ' ') | Should -Match 'memory-backend-memfd,id=mem0,size=256M,share=on'
        $script:qemuCmd | Should -Contain "socket,id=fs0,path=$($script:rwSocket)"
        ($script:qemuCmd -join ' ') | Should -Match 'vhost-user-fs-pci,chardev=fs\d,tag=rodata'
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
        # QEMU's C virtiofsd has no read-only export: the module serves the folder from a read-only
        # bind mount in the daemon's own mount namespace (none is visible on the host).
        # Its sandbox pivots into that mount: there the folder is '/' (or, before QEMU connected, itself).
        $line = @($script:roMountInfo | Where-Object {
                $f = $_ -split ' '
                $f[4] -in $script:roDir, '/' -and $f[3].Length -gt 1 -and $script:roDir.EndsWith($f[3])
            })
        if ($script:roDaemons[0].CommandLine -notmatch '--readonly') {
            $line.Count | Should -BeGreaterThan 0 -Because "the read-only daemon serves its source from a mount: $($script:roMountInfo -join ' | ')"
            ($line[-1] -split ' ')[5] | Should -Match '^ro(,|$)'
        }
        @(Get-Content /proc/self/mountinfo | Where-Object { ($_ -split ' ')[4] -eq $script:roDir }) | Should -BeNullOrEmpty
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
