# Runner: host-exclusive
<#
The Debian image on real QEMU under TCG: two VMs booted at once (few boots: they are slow under
emulation), one on the user network with an SSH port forward on 127.0.0.1, one bridged inside a
network namespace this suite creates. Both get a host name, the test's SSH key and a user-data
script through the NoCloud seed. Everything runs in one child pwsh inside the namespace (the
bridge, the TAP devices and the forward's 127.0.0.1 are the namespace's), which reports as JSON.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $script:ns = $null
    $script:r = $null
    $script:ok = ((& id -u) -eq '0') -and
        @('mmdebstrap', 'ssh', 'ssh-keygen', 'mkfs.vfat', 'mcopy' | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
    if (-not $script:ok) { return }

    $script:build = Initialize-MyHvDebianImage
    $script:ns = New-MyHvTestNamespace
    $key = Join-Path $script:testHome 'id_test'
    & ssh-keygen -q -t ed25519 -N '' -C 'myhv-test' -f $key
    if ($LASTEXITCODE -ne 0) { throw 'ssh-keygen failed' }
    # Boot-to-ready under TCG on this shared 2-core machine took 1.5-4.5 minutes (README).
    $body = @"
`$key = '$key'
`$userData = "echo userdata-ran-as-`$(id -un)`necho from-user-data > /root/user-data-was-here"
`$u = New-MyVm -Name 'deb-user' -Image debian -MemoryMiB 512 -HostName 'deb-user-host' -SshPublicKeyPath "`$key.pub" -UserData `$userData
`$b = New-MyVm -Name 'deb-br' -Image debian -MemoryMiB 512 -Bridge br0 -IPAddress 10.77.0.2/24 -Gateway 10.77.0.1 -HostName 'deb-br-host' -SshPublicKey (Get-Content "`$key.pub") -UserData `$userData
`$r.BridgeSshCommand = `$b.SshCommand
`$sw = [Diagnostics.Stopwatch]::StartNew()
Start-MyVm -Name 'deb-user'
Start-MyVm -Name 'deb-br'
# The automatic forward's port is chosen by the start.
`$r.UserSshCommand = (Get-MyVm -Name 'deb-user').SshCommand
`$ready = @{}
while (`$sw.Elapsed.TotalSeconds -lt 900 -and `$ready.Count -lt 2) {
    foreach (`$n in 'deb-user', 'deb-br') {
        if (-not `$ready.ContainsKey(`$n) -and (Get-MyVmConsole -Name `$n) -contains 'myhv-guest: ready') { `$ready[`$n] = `$sw.Elapsed.TotalSeconds }
        if ((Get-MyVm -Name `$n).Status -ne 'Running') { throw "`$n is not running: `$((Get-MyVm -Name `$n).StatusReason)" }
    }
    Start-Sleep -Seconds 2
}
`$r.ReadySeconds = `$ready
`$r.SeedWhileRunning = Test-Path (Join-Path `$env:MYHV_HOME 'run/deb-user/seed.img')
`$pid1 = (Get-MyVm -Name 'deb-user').Pid
`$r.QemuArgs = @([IO.File]::ReadAllText("/proc/`$pid1/cmdline").Split([char]0) | Where-Object { `$_ -match 'hostfwd|seed' })
`$port = (Get-MyVm -Name 'deb-user').SshPort
`$r.Listening = @(& ss -Htln 2>&1 | ForEach-Object { "`$_" } | Where-Object { `$_ -match ":`$port\b" })
`$check = 'hostname; . /etc/os-release; echo "os=`$ID-`$VERSION_ID"; cat /root/user-data-was-here; echo "state=`$(systemctl is-system-running --wait)"; systemctl --failed --no-legend --plain | cut -d" " -f1'
`$r.User = Invoke-MyHvSsh -KeyFile `$key -HostAddress 127.0.0.1 -Port `$port -Command `$check
`$r.Bridge = Invoke-MyHvSsh -KeyFile `$key -HostAddress 10.77.0.2 -Command `$check
`$r.WrongKey = Invoke-MyHvSsh -KeyFile '/nonexistent-key' -HostAddress 127.0.0.1 -Port `$port -Command 'true'
`$r.UserConsole = @(Get-MyVmConsole -Name 'deb-user' | Where-Object { `$_ -match 'userdata|myhv-' })
`$r.Stop = "`$((Stop-MyVm -Name 'deb-user' -PassThru).Status)"
`$r.SeedAfterStop = Test-Path (Join-Path `$env:MYHV_HOME 'run/deb-user/seed.img')
Get-MyVm | Remove-MyVm -Force -Confirm:`$false
"@
    $run = Invoke-MyHvChild -Namespace $script:ns -Body $body -TimeoutSeconds 1200
    $script:r = $run.Result
    if (-not $script:r -or ($script:r.PSObject.Properties.Name -contains 'Error')) {
        throw "the child failed: $($run.Output -join "`n")"
    }
    $script:r | ConvertTo-Json -Depth 5 | Write-Host
}

AfterAll {
    if ($script:ns -and (Test-MyHvNamespace -Name $script:ns)) {
        $null = Invoke-MyHvChild -Namespace $script:ns -Body 'Get-MyVm | Remove-MyVm -Force -Confirm:$false'
        Remove-MyHvTestNamespace -Name $script:ns
    }
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'A Debian guest built by New-MyVmImage' {
    It 'boots to ready on the user network and on a bridge' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, openssh-client, dosfstools, mtools' -Condition $script:ok
        $script:r.ReadySeconds.'deb-user' | Should -BeGreaterThan 0
        $script:r.ReadySeconds.'deb-br' | Should -BeGreaterThan 0
    }

    It 'is Debian 12 with systemd running (or degraded) and the host name from -HostName' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, openssh-client' -Condition $script:ok
        foreach ($guest in @(@{ R = $script:r.User; Host = 'deb-user-host' }, @{ R = $script:r.Bridge; Host = 'deb-br-host' })) {
            $guest.R.Exit | Should -Be 0 -Because ($guest.R.Out -join "`n")
            $guest.R.Out[0] | Should -Be $guest.Host
            $guest.R.Out | Should -Contain 'os=debian-12'
            @($guest.R.Out | Where-Object { $_ -match '^state=(running|degraded)$' }).Count | Should -Be 1 -Because ($guest.R.Out -join "`n")
        }
    }

    It 'ran the user-data once as root, its output on the console' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, openssh-client' -Condition $script:ok
        $script:r.User.Out | Should -Contain 'from-user-data'
        $script:r.Bridge.Out | Should -Contain 'from-user-data'
        ($script:r.UserConsole -join "`n") | Should -Match 'userdata-ran-as-root'
    }

    It 'takes SSH with the given key only, through a forward on 127.0.0.1 only, and shows SshCommand' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, openssh-client' -Condition $script:ok
        $script:r.UserSshCommand | Should -Match '^ssh -p \d+ root@127\.0\.0\.1$'
        $script:r.BridgeSshCommand | Should -Be 'ssh root@10.77.0.2'
        ($script:r.QemuArgs -join ' ') | Should -Match 'hostfwd=tcp:127\.0\.0\.1:\d+-:22'
        $script:r.Listening.Count | Should -BeGreaterThan 0
        foreach ($line in $script:r.Listening) { $line | Should -Match '127\.0\.0\.1:\d+' }
        $script:r.WrongKey.Exit | Should -Not -Be 0
    }

    It 'attaches the NoCloud seed as a run artifact, removed by Stop-MyVm' {
        Skip-UnlessPrerequisite -Name 'root, mmdebstrap, dosfstools, mtools' -Condition $script:ok
        $script:r.SeedWhileRunning | Should -BeTrue
        ($script:r.QemuArgs -join ' ') | Should -Match 'seed\.img,if=none,id=seed0,format=raw,readonly=on'
        $script:r.Stop | Should -Be 'Stopped'
        $script:r.SeedAfterStop | Should -BeFalse
    }
}
