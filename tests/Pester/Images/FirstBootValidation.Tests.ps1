<#
New-MyVm's first-boot and SSH settings are checked before anything is created (InvalidVmSpec),
and what passes is kept in the definition. No VM boots here.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestHelpers.psm1') -Force
    Import-MyHvTestModule | Out-Null
    $script:testHome = New-MyHvTestHome
    $script:key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq1l4lB0Zt2Zk6mXy3H2Zb8dQn2m5a1wq0b7m8Jf3a9 someone@example'
}

AfterAll {
    Get-MyVm | Remove-MyVm -Force -Confirm:$false
    Assert-MyHvNoLeftovers -Home $script:testHome
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

    It 'keeps valid settings and shows the SSH command with an automatic 127.0.0.1 port' {
        $file = Join-Path $script:testHome 'keys.pub'
        Set-Content -LiteralPath $file -Value "# a comment`n`n$($script:key)"
        $vm = New-MyVm -Name 'fb-ok' -HostName 'web.example' -SshPublicKeyPath $file -UserData 'echo hi'
        $vm.SshCommand | Should -Match '^ssh -p (\d+) root@127\.0\.0\.1$'
        [int]($vm.SshCommand -replace '^ssh -p (\d+) .*$', '$1') | Should -BeGreaterOrEqual 1024
        $definition = Get-Content -Raw (Join-Path $env:MYHV_HOME 'vms/fb-ok/definition.json') | ConvertFrom-Json
        $definition.firstBoot.hostName | Should -Be 'web.example'
        @($definition.firstBoot.sshPublicKeys) | Should -Be @($script:key)
        (Get-MyVm -Name 'fb-ok' | Format-List | Out-String) | Should -Match 'SshCommand\s*:\s*ssh -p'
        $fixed = New-MyVm -Name 'fb-port' -SshPublicKey $script:key -SshPort 40222
        $fixed.SshCommand | Should -Be 'ssh -p 40222 root@127.0.0.1'
        (New-MyVm -Name 'fb-none').SshCommand | Should -BeNullOrEmpty
    }
}
