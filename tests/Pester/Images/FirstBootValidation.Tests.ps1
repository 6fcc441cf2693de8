<#
New-MyVm's first-boot and SSH settings are checked before anything is created (InvalidVmSpec),
and what passes is kept in the definition; the NoCloud seed disk a start makes holds them (read
with mtools from the host, on the tiny image, which needs no boot to be ready for this), and a
start that fails at start.seed leaves no seed behind.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-MyHvTestModule | Out-Null
    $script:testHome = New-MyHvTestHome
    $script:key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq1l4lB0Zt2Zk6mXy3H2Zb8dQn2m5a1wq0b7m8Jf3a9 someone@example'
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'First-boot settings validation' {
    It 'rejects <Case> with InvalidVmSpec and creates nothing' -ForEach @(
        @{ Case = 'a host name with a line break'; Splat = @{ HostName = "web`nlocal-hostname: evil" } }
        @{ Case = 'a host name with a space'; Splat = @{ HostName = 'my web' } }
        @{ Case = 'a host name label starting with a dash'; Splat = @{ HostName = '-web' } }
        @{ Case = 'a key that is not an OpenSSH key line'; Splat = @{ SshPublicKey = 'not a key' } }
        @{ Case = 'a key with a line break'; Splat = @{ SshPublicKey = "ssh-ed25519 AAAA`n  - 'ssh-ed25519 BBBB'" } }
        @{ Case = 'a key with a quote'; Splat = @{ SshPublicKey = "ssh-ed25519 AAAAC3Nz it's" } }
        @{ Case = 'a private key file'; Splat = @{ SshPublicKey = '-----BEGIN OPENSSH PRIVATE KEY-----' } }
        @{ Case = 'an SSH port below 1024'; Splat = @{ SshPort = 22 } }
        @{ Case = 'an SSH port on a network without forwarding'; Splat = @{ SshPort = 2222; Network = 'None' } }
        @{ Case = 'a user-data with a NUL'; Splat = @{ UserData = "echo a`0b" } }
        @{ Case = 'an empty user-data'; Splat = @{ UserData = '' } }
        @{ Case = 'a key file that does not exist'; Splat = @{ SshPublicKeyPath = '/nonexistent/key.pub' } }
    ) {
        $err = $null
        try { New-MyVm -Name 'fb' @Splat -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*'
        Get-MyVm -Name 'fb' -ErrorAction Ignore | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'vms/fb') | Should -BeFalse
    }

    It 'keeps valid settings; an automatic SSH port is left to the start, a pinned one is shown at once' {
        $file = Join-Path $script:testHome 'keys.pub'
        Set-Content -LiteralPath $file -Value "# a comment`n`n$($script:key)"
        $vm = New-MyVm -Name 'fb-ok' -HostName 'web.example' -SshPublicKeyPath $file -UserData 'echo hi'
        $vm.SshPort | Should -BeNullOrEmpty -Because 'a port free now may be taken by the time the VM starts'
        $vm.SshCommand | Should -BeNullOrEmpty
        $definition = Get-Content -Raw (Join-Path $env:MYHV_HOME 'vms/fb-ok/definition.json') | ConvertFrom-Json
        $definition.firstBoot.hostName | Should -Be 'web.example'
        @($definition.firstBoot.sshPublicKeys) | Should -Be @($script:key)
        $definition.network.sshPortAutomatic | Should -BeTrue
        $definition.network.sshPort | Should -BeNullOrEmpty
        $fixed = New-MyVm -Name 'fb-port' -SshPublicKey $script:key -SshPort 40222
        $fixed.SshCommand | Should -Be 'ssh -p 40222 root@127.0.0.1'
        # Set-MyVm keeps the forward.
        (Set-MyVm -Name 'fb-port' -Cpus 2 -PassThru).SshCommand | Should -Be 'ssh -p 40222 root@127.0.0.1'
        Set-MyVm -Name 'fb-ok' -MemoryMiB 320
        (Get-Content -Raw (Join-Path $env:MYHV_HOME 'vms/fb-ok/definition.json') | ConvertFrom-Json).network.sshPortAutomatic | Should -BeTrue
        (New-MyVm -Name 'fb-none').SshCommand | Should -BeNullOrEmpty
    }

    It 'chooses the automatic SSH port at each start, records it and shows it; a taken one is not reused' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, dosfstools, mtools' -Condition {
            (Get-Command qemu-system-x86_64, mkfs.vfat, mtype -CommandType Application -ErrorAction Ignore | Select-Object -Unique Name).Count -eq 3 }
        $env:MYHV_ACCEL = 'tcg'
        $null = New-MyVm -Name 'fb-port-auto' -Image tiny -SshPublicKey $script:key
        $ports = @()
        $holder = $null
        try {
            foreach ($run in 1, 2) {
                Start-MyVm -Name 'fb-port-auto'
                $vm = Get-MyVm -Name 'fb-port-auto'
                $vm.SshPort | Should -BeGreaterOrEqual 1024
                $vm.SshCommand | Should -Be "ssh -p $($vm.SshPort) root@127.0.0.1"
                $state = Get-Content -Raw (Join-Path $env:MYHV_HOME 'vms/fb-port-auto/state.json') | ConvertFrom-Json
                $state.sshPort | Should -Be $vm.SshPort
                ([IO.File]::ReadAllText("/proc/$($vm.Pid)/cmdline").Split([char] 0) -match 'hostfwd') |
                    Should -Match "hostfwd=tcp:127\.0\.0\.1:$($vm.SshPort)-:22"
                $ports += $vm.SshPort
                Stop-MyVm -Name 'fb-port-auto' -Force
                (Get-MyVm -Name 'fb-port-auto').SshPort | Should -BeNullOrEmpty
                # Another program takes the port of the first run before the second start.
                if ($run -eq 1) { $holder = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, $vm.SshPort); $holder.Start() }
            }
        } finally {
            if ($holder) { $holder.Stop() }
            Stop-MyVm -Name 'fb-port-auto' -Force -ErrorAction Ignore
        }
        $ports[1] | Should -Not -Be $ports[0]
    }

    It 'refuses to start with a pinned SSH port another program holds, before anything is created' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { [bool](Get-Command qemu-system-x86_64 -CommandType Application -ErrorAction Ignore) }
        $holder = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $holder.Start()
        try {
            $port = $holder.LocalEndpoint.Port
            $vm = New-MyVm -Name 'fb-port-held' -Image tiny -SshPublicKey $script:key -SshPort $port
            $vm.SshCommand | Should -Be "ssh -p $port root@127.0.0.1"
            $err = $null
            try { Start-MyVm -Name 'fb-port-held' -ErrorAction Stop } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'VmStartFailed,*'
            $err.Exception.Message | Should -Match "SSH port $port on 127\.0\.0\.1 is in use"
        } finally { $holder.Stop() }
        (Get-MyVm -Name 'fb-port-held').Status | Should -Not -Be 'Running'
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'run/fb-port-held') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'vms/fb-port-held/disk.qcow2') | Should -BeFalse
    }

    It 'writes the NoCloud seed (CIDATA: meta-data and user-data) as a run artifact of the start' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, dosfstools, mtools' -Condition {
            (Get-Command qemu-system-x86_64, mkfs.vfat, mtype -CommandType Application -ErrorAction Ignore | Select-Object -Unique Name).Count -eq 3 }
        $env:MYHV_ACCEL = 'tcg'
        $vm = New-MyVm -Name 'fb-seed' -Network None -HostName 'seed-host' -SshPublicKey $script:key -UserData 'echo seeded'
        Start-MyVm -Name 'fb-seed'
        try {
            $seed = Join-Path $env:MYHV_HOME 'run/fb-seed/seed.img'
            Test-Path -LiteralPath $seed | Should -BeTrue
            (Get-Item -LiteralPath $seed).UnixFileMode | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite')
            $env:MTOOLS_SKIP_CHECK = '1'
            (& mlabel -i $seed -s '::' | Out-String) | Should -Match 'CIDATA'
            $meta = @(& mtype -i $seed '::meta-data')
            $meta | Should -Contain "instance-id: iid-$($vm.Id.ToString('N'))"
            $meta | Should -Contain 'local-hostname: seed-host'
            $meta | Should -Contain "  - '$($script:key)'"
            (@(& mtype -i $seed '::user-data') -join "`n") | Should -Be "#!/bin/sh`necho seeded"
        } finally {
            $env:MTOOLS_SKIP_CHECK = $null
            Stop-MyVm -Name 'fb-seed' -Force
        }
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'run/fb-seed/seed.img') | Should -BeFalse
    }

    It 'rolls a start back at fail point start.seed=error, leaving no seed' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, dosfstools, mtools' -Condition {
            (Get-Command qemu-system-x86_64, mkfs.vfat, mtype -CommandType Application -ErrorAction Ignore | Select-Object -Unique Name).Count -eq 3 }
        $null = New-MyVm -Name 'fb-fail' -Network None -HostName 'fail-host'
        $env:MYHV_FAILPOINTS = 'start.seed=error'
        $err = $null
        try { Start-MyVm -Name 'fb-fail' -ErrorAction Stop } catch { $err = $_ } finally { $env:MYHV_FAILPOINTS = $null }
        $err.FullyQualifiedErrorId | Should -BeLike 'VmStartFailed,*'
        $err.Exception.Message | Should -Match 'seed'
        Test-Path -LiteralPath (Join-Path $env:MYHV_HOME 'run/fb-fail') | Should -BeFalse
        $vm = Get-MyVm -Name 'fb-fail'
        $vm.Status | Should -Be 'Failed'
        $vm.StatusReason | Should -Match "step 'seed'"
    }
}
