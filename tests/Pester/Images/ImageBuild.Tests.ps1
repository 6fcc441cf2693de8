<#
New-MyVmImage, Get-MyVmImage, Remove-MyVmImage on this host's real mmdebstrap. The Debian image
is built once (first run: minutes) and then found by its recipe hash; the failure cases use other
names, which the cache serves by linking the same recipe's files, so only the two interrupted
builds (kill -9 and Stop) run mmdebstrap, for a few seconds each.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:module = Import-MyHvTestModule
    $script:testHome = New-MyHvTestHome
    $script:ok = ((& id -u) -eq '0') -and [bool](Get-Command mmdebstrap -CommandType Application -ErrorAction Ignore)
    $script:folder = [MyHypervisor.Core.Configuration.ImageSearchPath]::UserImageFolder()
    $script:scratch = @('dfail', 'dkillfp', 'dkill', 'dstop', 'dlink')
    $ProgressPreference = 'SilentlyContinue'
    if (-not $script:ok) { return }
    $script:build = Initialize-MyHvDebianImage
    Write-Host "Debian image ready in $([int]$script:build.Seconds) s"

}

AfterAll {
    if ($script:ok) {
        Get-MyVm | Remove-MyVm -Force -Confirm:$false
        foreach ($name in $script:scratch) {
            if (Get-MyVmImage -Name $name -ErrorAction Ignore) { Remove-MyVmImage -Name $name -Force -Confirm:$false }
        }
    }
    Assert-MyHvNoLeftovers -Home $script:testHome
}

Describe 'New-MyVmImage builds a Debian image and caches it by recipe' {
    It 'lists the image with its kernel, size, build date, agent and SSH, found in the per-user folder' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $image = Get-MyVmImage -Name 'debian'
        $image.PSObject.TypeNames[0] | Should -Be 'MyHypervisor.Core.Images.Inventory.ImageInfo'
        $image.KernelVersion | Should -Match '^6\.1\.\d+-\d+-cloud-amd64$'
        $image.Distribution | Should -Be 'bookworm'
        $image.SizeBytes | Should -BeGreaterThan 100MB
        $image.DiskBytes | Should -Be 2GB
        $image.Built | Should -Not -BeNullOrEmpty
        $image.HasGuestAgent | Should -BeTrue
        $image.HasSsh | Should -BeTrue
        $image.FoundIn | Should -Be $script:folder
        (Get-MyVmImage -Name 'deb*').Name | Should -Contain 'debian'
        (Get-MyVmImage | Format-Table | Out-String) | Should -Match 'Kernel\s+Size\s+Built'
    }

    It 'returns the image at once when the recipe is the same' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $before = Get-MyVmImage -Name 'debian'
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $again = New-MyVmImage -Name 'debian'
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
        $again.Built | Should -Be $before.Built
        $again.RecipeHash | Should -Be $before.RecipeHash
    }

    It 'links the same recipe under another name; Remove-MyVmImage refuses while a VM uses it unless -Force' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $linked = New-MyVmImage -Name 'dlink'
        $linked.RecipeHash | Should -Be (Get-MyVmImage -Name 'debian').RecipeHash
        $vm = New-MyVm -Name 'uses-dlink' -Image 'dlink'
        (Get-MyVmImage -Name 'dlink').UsedBy | Should -Be @('uses-dlink')
        $err = $null
        try { Remove-MyVmImage -Name 'dlink' -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'VmBusy,*'
        $err.Exception.Message | Should -Match 'uses-dlink'
        Get-MyVmImage -Name 'dlink' | Should -Not -BeNullOrEmpty
        Remove-MyVmImage -Name 'dlink' -Force
        Get-MyVmImage -Name 'dlink' -ErrorAction Ignore | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:folder 'dlink') | Should -BeFalse
        Remove-MyVm -Name $vm.Name -Force
        # The original is untouched (the link shared its files).
        Get-MyVmImage -Name 'debian' | Should -Not -BeNullOrEmpty
        $err = $null
        try { Get-MyVmImage -Name 'no-such-image' -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ImageNotFound,*'
    }

    It 'rejects bad input with a contract id before anything is created' -ForEach @(
        @{ Case = 'bad name'; Splat = @{ Name = 'bad/name' }; Id = 'InvalidVmName' }
        @{ Case = 'disk size'; Splat = @{ Name = 'dfail'; DiskSizeGiB = 0 }; Id = 'InvalidVmSpec' }
        @{ Case = 'package name'; Splat = @{ Name = 'dfail'; Package = 'Not A Package' }; Id = 'InvalidVmSpec' }
        @{ Case = 'unknown package'; Splat = @{ Name = 'dfail'; Package = 'no-such-package-myhv' }; Id = 'InvalidVmSpec' }
    ) {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $err = $null
        try { New-MyVmImage @Splat -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dfail') | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:folder 'dfail') | Should -BeFalse
    }

    It 'fails with PrerequisiteMissing naming mmdebstrap when it is not installed' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $saved = $env:PATH
        $err = $null
        try {
            $env:PATH = '/nonexistent'
            New-MyVmImage -Name 'dfail' -Force -ErrorAction Stop
        } catch { $err = $_ } finally { $env:PATH = $saved }
        $err.FullyQualifiedErrorId | Should -BeLike 'PrerequisiteMissing,*'
        $err.Exception.Message | Should -Match "package 'mmdebstrap'"
    }
}

Describe 'A failed or interrupted build leaves nothing, and the next build succeeds' {
    It 'rolls back at fail point image.workdir=error' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $env:MYHV_FAILPOINTS = 'image.workdir=error'
        $err = $null
        try { New-MyVmImage -Name 'dfail' -ErrorAction Stop } catch { $err = $_ } finally { $env:MYHV_FAILPOINTS = $null }
        $err.Exception.Message | Should -Match "step 'workdir'"
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dfail') | Should -BeNullOrEmpty
        Get-MyVmImage -Name 'dfail' -ErrorAction Ignore | Should -BeNullOrEmpty
        (New-MyVmImage -Name 'dfail').Name | Should -Be 'dfail'
    }

    It 'recovers a build killed at fail point image.workdir=kill' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $run = Invoke-MyHvChild -Environment @{ MYHV_FAILPOINTS = 'image.workdir=kill' } -Body 'New-MyVmImage -Name dkillfp | Out-Null; $r.Survived = $true'
        $run.Result | Should -BeNullOrEmpty -Because 'the child killed itself'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dkillfp') | Should -Not -BeNullOrEmpty -Because 'the work folder and ledger of the killed build are there'
        Get-MyVmImage -Name 'dkillfp' -ErrorAction Ignore | Should -BeNullOrEmpty
        (New-MyVmImage -Name 'dkillfp').Name | Should -Be 'dkillfp'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dkillfp') | Should -BeNullOrEmpty
    }

    It 'leaves no process, mount or partial image after kill -9 during mmdebstrap; the next build succeeds' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $child = Start-MyHvPwsh -Command "Import-Module '$($script:module.Path)'; `$ProgressPreference = 'SilentlyContinue'; New-MyVmImage -Name dkill -Force"
        try {
            Test-MyHvEventually { @(Get-MyHvProcess -Marker '/.dkill.build-' | Where-Object CommandLine -match 'mmdebstrap').Count -gt 0 } 120 |
                Should -BeTrue -Because 'the build reaches mmdebstrap'
            Start-Sleep -Seconds 8
            & kill -9 $child.Id
            $null = $child.WaitForExit(10000)
        } finally { if (-not $child.HasExited) { $child.Kill($true) }; $child.Dispose() }
        Get-MyVmImage -Name 'dkill' -ErrorAction Ignore | Should -BeNullOrEmpty
        # mmdebstrap runs under --pdeathsig KILL in its own namespaces: it dies with the command.
        Test-MyHvEventually { @(Get-MyHvProcess -Marker '/.dkill.build-').Count -eq 0 } 30 | Should -BeTrue -Because (
            (Get-MyHvProcess -Marker '/.dkill.build-' | ForEach-Object CommandLine) -join "`n")
        (New-MyVmImage -Name 'dkill').Name | Should -Be 'dkill'
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dkill') | Should -BeNullOrEmpty
    }

    It 'rolls back a build stopped like Ctrl+C during mmdebstrap' {
        Skip-UnlessPrerequisite -Name 'root and mmdebstrap' -Condition $script:ok
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$($script:module.Path)'; `$ProgressPreference = 'SilentlyContinue'; New-MyVmImage -Name dstop -Force")
        $async = $ps.BeginInvoke()
        try {
            Test-MyHvEventually { @(Get-MyHvProcess -Marker '/.dstop.build-' | Where-Object CommandLine -match 'mmdebstrap').Count -gt 0 } 120 |
                Should -BeTrue -Because 'the build reaches mmdebstrap'
            Start-Sleep -Seconds 5
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            Write-Host "Stop took $([int]$sw.Elapsed.TotalSeconds) s"
        } finally { $ps.Dispose() }
        @(Get-MyHvImageLeftover -Folder $script:folder -Name 'dstop') | Should -BeNullOrEmpty
        Get-MyVmImage -Name 'dstop' -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}
