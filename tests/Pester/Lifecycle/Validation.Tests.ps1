# Runner: host-exclusive
# Issue 3, acceptance 4: a table of bad names and bad specs. Each fails New-MyVm with its contract
# id (InvalidVmName, InvalidVmSpec, ImageNotFound), with a message naming what is wrong, and
# leaves nothing on disk: in a home that already holds a VM and in a fresh, empty home, the tree
# (every path, type, inode, mode, size and SHA-256) is identical before and after. A name that is
# taken fails with InvalidVmName and the existing VM is untouched. The limits themselves pass.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:emptyHome = New-MyHvTestHome
    $script:vmHome = New-MyHvTestHome          # MYHV_HOME points here from now on
    $null = New-MyVm -Name keep -Cpus 2 -MemoryMiB 128 -ErrorAction Stop

    # Folders for volumes, image folders and a plain file, outside both homes.
    $script:scratch = New-MyHvTestDir -Prefix 'mhV'
    $script:volA = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'a')).FullName
    $script:volB = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'b')).FullName
    $script:plainFile = Join-Path $script:scratch 'file.txt'
    Set-Content -LiteralPath $script:plainFile -Value 'not a folder'
    $script:badManifest = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'badjson')).FullName
    Set-Content -LiteralPath (Join-Path $script:badManifest 'image.json') -Value '{ "Kernel": '
    $script:incomplete = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'incomplete')).FullName
    Set-Content -LiteralPath (Join-Path $script:incomplete 'image.json') -Value '{ "Name": "incomplete", "Kernel": "vmlinuz", "Disk": "rootfs.ext4" }'

    # A real Linux bridge, so that the address rules (checked after the bridge exists) can be reached.
    $script:bridge = $null
    $ip = Get-Command -Name ip -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($ip -and (& id -u) -eq '0') {
        $candidate = 'lvbr' + (Get-Random -Minimum 0x1000 -Maximum 0xffff).ToString('x4')
        & $ip.Source link add name $candidate type bridge 2>$null
        if ($LASTEXITCODE -eq 0) { $script:bridge = $candidate }
    }

    function Get-BothSnapshots { Get-MyHvTreeSnapshot -Path $script:vmHome, $script:emptyHome }

    function Assert-RejectedEverywhere {
        <#
        Runs $Script in the populated home, then in the empty one: each time one terminating error
        with $Id and a message matching $Match; and neither home changed at all.
        #>
        param([scriptblock] $Script, [string] $Id, [string] $Match)
        $before = Get-BothSnapshots
        $results = foreach ($target in $script:vmHome, $script:emptyHome) {
            $env:MYHV_HOME = $target
            try { Invoke-MyHvCapture $Script }
            finally { $env:MYHV_HOME = $script:vmHome }
        }
        $after = Get-BothSnapshots

        foreach ($r in $results) {
            $r.Output | Should -BeNullOrEmpty -Because 'nothing may be created'
            $r.Errors.Count | Should -Be 1
            $r.Terminated | Should -BeTrue -Because 'a bad New-MyVm invocation is a terminating error'
            $r.Errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
            $r.Errors[0].Exception.Message | Should -Match $Match
        }
        $after | Should -Be $before
        # The empty home is still empty: not even vms/, locks/ or cache/ appeared.
        @(Get-ChildItem -LiteralPath $script:emptyHome -Force) | Should -BeNullOrEmpty
    }
}

AfterAll {
    $env:MYHV_HOME = $script:vmHome
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        foreach ($h in $script:vmHome, $script:emptyHome) {
            $env:MYHV_HOME = $h
            Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
        }
    }
    if ($script:bridge) { & ip link del $script:bridge 2>$null }
    Remove-Item -LiteralPath $script:scratch -Recurse -Force -ErrorAction SilentlyContinue
    Assert-MyHvNoLeftovers -Home $script:vmHome
    Assert-MyHvNoLeftovers -Home $script:emptyHome
    Remove-Item -LiteralPath $script:vmHome, $script:emptyHome -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Bad names' {
    It 'name <Label> fails with InvalidVmName and writes nothing' -ForEach @(
        @{ Label = "'' (empty)"; BadName = '' }
        @{ Label = "' ' (a space)"; BadName = ' ' }
        @{ Label = 'UPPER'; BadName = 'UPPER' }
        @{ Label = 'Mixed'; BadName = 'Mixed' }
        @{ Label = '-lead'; BadName = '-lead' }
        @{ Label = 'trail-'; BadName = 'trail-' }
        @{ Label = 'a/b'; BadName = 'a/b' }
        @{ Label = 'a\b'; BadName = 'a\b' }
        @{ Label = '..'; BadName = '..' }
        @{ Label = '../escape'; BadName = '../escape' }
        @{ Label = 'a..b'; BadName = 'a..b' }
        @{ Label = 'x * 33'; BadName = 'x' * 33 }
        @{ Label = 'sp ace'; BadName = 'sp ace' }
        @{ Label = 'dot.name'; BadName = 'dot.name' }
        @{ Label = '.hidden'; BadName = '.hidden' }
        @{ Label = 'under_score'; BadName = 'under_score' }
        @{ Label = 'tab(TAB)name'; BadName = "tab`tname" }
        @{ Label = 'new(LF)line'; BadName = "new`nline" }
        @{ Label = 'ünï'; BadName = 'ünï' }
        @{ Label = 'star*'; BadName = 'star*' }
    ) {
        Assert-RejectedEverywhere -Script { New-MyVm -Name $BadName } -Id 'InvalidVmName' -Match 'not a valid VM name'
    }
}

Describe 'Bad specs' {
    It '<Label> fails with InvalidVmSpec and writes nothing' -ForEach @(
        @{ Label = 'Cpus 0'; Match = 'Cpus'; Script = { New-MyVm -Name spec -Cpus 0 } }
        @{ Label = 'Cpus -1'; Match = 'Cpus'; Script = { New-MyVm -Name spec -Cpus -1 } }
        @{ Label = 'Cpus 65'; Match = 'Cpus'; Script = { New-MyVm -Name spec -Cpus 65 } }
        @{ Label = 'MemoryMiB 10'; Match = 'MemoryMiB'; Script = { New-MyVm -Name spec -MemoryMiB 10 } }
        @{ Label = 'MemoryMiB 0'; Match = 'MemoryMiB'; Script = { New-MyVm -Name spec -MemoryMiB 0 } }
        @{ Label = 'MemoryMiB 10000000'; Match = 'MemoryMiB'; Script = { New-MyVm -Name spec -MemoryMiB 10000000 } }
        @{ Label = 'Network Bridge without -Bridge'; Match = '-Bridge'; Script = { New-MyVm -Name spec -Network Bridge } }
        @{ Label = 'a bridge that does not exist'; Match = "bridge 'nosuchbr9' does not exist"; Script = { New-MyVm -Name spec -Bridge nosuchbr9 } }
        @{ Label = 'a bridge name that is no interface name'; Match = 'not a valid interface name'; Script = { New-MyVm -Name spec -Bridge 'br/../x' } }
        @{ Label = 'IPAddress on the user network'; Match = 'Bridge network only'; Script = { New-MyVm -Name spec -Network User -IPAddress 10.1.2.3/24 } }
        @{ Label = 'a volume with a relative path'; Match = 'absolute'; Script = { New-MyVm -Name spec -Volume @{ Path = 'rel/dir'; Tag = 'data' } } }
        @{ Label = 'a volume whose folder is missing'; Match = 'not an existing directory'; Script = { New-MyVm -Name spec -Volume @{ Path = (Join-Path $scratch 'missing'); Tag = 'data' } } }
        @{ Label = 'a volume that is a file'; Match = 'not an existing directory'; Script = { New-MyVm -Name spec -Volume @{ Path = $plainFile; Tag = 'data' } } }
        @{ Label = 'a volume tag with capitals and a dash'; Match = 'tag'; Script = { New-MyVm -Name spec -Volume @{ Path = $volA; Tag = 'Bad-Tag' } } }
        @{ Label = 'an empty volume tag'; Match = 'tag'; Script = { New-MyVm -Name spec -Volume @{ Path = $volA; Tag = '' } } }
        @{ Label = 'a volume tag of 17 characters'; Match = 'tag'; Script = { New-MyVm -Name spec -Volume @{ Path = $volA; Tag = 'a' * 17 } } }
        @{ Label = 'a duplicate volume tag'; Match = 'used twice'; Script = { New-MyVm -Name spec -Volume @{ Path = $volA; Tag = 'data' }, @{ Path = $volB; Tag = 'data' } } }
        @{ Label = 'nine volumes'; Match = 'at most'; Script = { New-MyVm -Name spec -Volume (1..9 | ForEach-Object { @{ Path = $volA; Tag = "v$_" } }) } }
        @{ Label = 'KernelArguments with a shell metacharacter'; Match = 'KernelArguments'; Script = { New-MyVm -Name spec -KernelArguments 'quiet; rm -rf /' } }
    ) {
        Assert-RejectedEverywhere -Script $Script -Id 'InvalidVmSpec' -Match $Match
    }

    It '<Label> (on an existing bridge) fails with InvalidVmSpec and writes nothing' -ForEach @(
        @{ Label = 'IPAddress 10.1.2.300/24'; Match = 'IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress 10.1.2.300/24 } }
        @{ Label = 'IPAddress without a prefix'; Match = 'IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress 10.1.2.3 } }
        @{ Label = 'IPAddress with prefix 33'; Match = 'IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress 10.1.2.3/33 } }
        @{ Label = 'an IPv6 IPAddress'; Match = 'IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress fd00::5/64 } }
        @{ Label = 'IPAddress that is a word'; Match = 'IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress bad } }
        @{ Label = 'a Gateway that is no address'; Match = 'Gateway'; Script = { New-MyVm -Name spec -Bridge $bridge -IPAddress 10.1.2.3/24 -Gateway nope } }
        @{ Label = 'a Gateway without IPAddress'; Match = 'Gateway needs an IPAddress'; Script = { New-MyVm -Name spec -Bridge $bridge -Gateway 10.1.2.1 } }
    ) {
        Skip-UnlessPrerequisite -Name 'a Linux bridge (root and ip link add ... type bridge)' -Condition $bridge
        Assert-RejectedEverywhere -Script $Script -Id 'InvalidVmSpec' -Match $Match
    }
}

Describe 'Unknown images' {
    It '<Label> fails with ImageNotFound and writes nothing' -ForEach @(
        @{ Label = 'an image name nobody built'; Match = "named 'nosuchimage'"; Script = { New-MyVm -Name img -Image nosuchimage } }
        @{ Label = 'a folder path that does not exist'; Match = 'No guest image at'; Script = { New-MyVm -Name img -Image /nonexistent/myhv/img } }
        @{ Label = 'a folder without image.json'; Match = 'image.json'; Script = { New-MyVm -Name img -Image $volA } }
        @{ Label = 'a folder whose image.json is not valid JSON'; Match = 'not valid'; Script = { New-MyVm -Name img -Image $badManifest } }
        @{ Label = 'a folder whose image.json names missing files'; Match = 'incomplete'; Script = { New-MyVm -Name img -Image $incomplete } }
        @{ Label = 'an empty image name'; Match = 'image'; Script = { New-MyVm -Name img -Image '' } }
    ) {
        Assert-RejectedEverywhere -Script $Script -Id 'ImageNotFound' -Match $Match
    }
}

Describe 'A name that is taken' {
    It 'fails with InvalidVmName and leaves the existing VM as it was' {
        $keepBefore = Get-MyVm -Name keep -ErrorAction Stop
        $before = Get-MyHvTreeSnapshot -Path $vmHome
        $r = Invoke-MyHvCapture { New-MyVm -Name keep -Cpus 4 -MemoryMiB 512 }
        $after = Get-MyHvTreeSnapshot -Path $vmHome
        $keepAfter = Get-MyVm -Name keep -ErrorAction Stop

        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
        $r.Errors[0].Exception.Message | Should -BeLike "*'keep' already exists*"
        $after | Should -Be $before
        $keepAfter.Id | Should -Be $keepBefore.Id
        $keepAfter.Cpus | Should -Be 2
        $keepAfter.MemoryMiB | Should -Be 128
    }
}

Describe 'The limits themselves are accepted' {
    # Without these, a New-MyVm that rejected everything would pass the tables above.
    BeforeAll { $env:MYHV_HOME = $script:emptyHome }
    AfterAll {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -ErrorAction Continue
        $env:MYHV_HOME = $script:vmHome
    }

    It 'name <Label> is accepted' -ForEach @(
        @{ Label = 'a'; GoodName = 'a' }
        @{ Label = '0'; GoodName = '0' }
        @{ Label = '9lives'; GoodName = '9lives' }
        @{ Label = 'a-b-c'; GoodName = 'a-b-c' }
        @{ Label = 'x * 32'; GoodName = 'x' * 32 }
    ) {
        (New-MyVm -Name $GoodName -ErrorAction Stop).Name | Should -Be $GoodName
        Test-Path -LiteralPath (Join-Path $emptyHome "vms/$GoodName/definition.json") | Should -BeTrue
    }

    It 'spec <Label> is accepted' -ForEach @(
        @{ Label = 'Cpus 1, MemoryMiB 64'; Script = { New-MyVm -Name lim1 -Cpus 1 -MemoryMiB 64 } }
        @{ Label = 'Cpus 64, MemoryMiB 65536'; Script = { New-MyVm -Name lim2 -Cpus 64 -MemoryMiB 65536 } }
        @{ Label = 'eight volumes with distinct tags'; Script = { New-MyVm -Name lim3 -Volume (1..8 | ForEach-Object { @{ Path = $volA; Tag = "v$_" } }) } }
        @{ Label = 'a read-only volume with a 16-character tag'; Script = { New-MyVm -Name lim4 -Volume @{ Path = $volB; Tag = 'a234567890123456'; ReadOnly = $true } } }
        @{ Label = 'KernelArguments of letters, digits, = , . : -'; Script = { New-MyVm -Name lim5 -KernelArguments 'loglevel=3 foo.bar=1,2:3-4' } }
    ) {
        $r = Invoke-MyHvCapture $Script
        $r.Errors | Should -BeNullOrEmpty
        $r.Output.Count | Should -Be 1
        $r.Output[0].Status | Should -Be 'Stopped'
    }

    It 'a bridged network with address and gateway is accepted' {
        Skip-UnlessPrerequisite -Name 'a Linux bridge (root and ip link add ... type bridge)' -Condition $bridge
        $vm = New-MyVm -Name lim6 -Bridge $bridge -IPAddress 10.1.2.3/24 -Gateway 10.1.2.1 -ErrorAction Stop
        $vm.Network | Should -BeLike 'Bridge*'
    }

    It 'New-MyVm -WhatIf validates but writes nothing' {
        $before = Get-MyHvTreeSnapshot -Path $emptyHome
        $r = Invoke-MyHvCapture { New-MyVm -Name whatif -WhatIf }
        $after = Get-MyHvTreeSnapshot -Path $emptyHome

        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -BeNullOrEmpty
        $after | Should -Be $before
    }
}
