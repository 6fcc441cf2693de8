# Runner: host-exclusive
<#
MYHV_HOME is checked the way ssh checks ~/.ssh: owned by the current user and not writable by
group or others, and each parent up to a sticky or a safe root-owned folder owned by the user or
root and not writable by group or others; any other home is refused with PrerequisiteMissing
naming the path and the fix, before a record in it is read (a record planted in a home another
user made 0777 is never executed). Every file and socket the module or its helpers create is 0600
and every folder 0700: a running VM with a read-write and a read-only volume, a bridged network
(br0 in a test-made namespace) and its guest channel, with the accelerator probed (cache/), is
listed entry by entry; so is a start killed mid-way (its journal included).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:safeHome = Initialize-MyHvTestSuite
    $script:scratch = New-MyHvTestDir -Prefix 'mhP'
    $script:nobody = 65534

    function Set-Owner([string] $Path, [int] $Uid, [string] $Mode) {
        & chown -R -- "${Uid}:${Uid}" $Path
        if ($LASTEXITCODE -ne 0) { throw "chown $Path failed" }
        & chmod -- $Mode $Path
        if ($LASTEXITCODE -ne 0) { throw "chmod $Path failed" }
    }

    # Every command that reads the home, run with MYHV_HOME = $HomePath: the errors they gave.
    function Invoke-EveryCommand([string] $HomePath) {
        $saved = $env:MYHV_HOME
        $env:MYHV_HOME = $HomePath
        try {
            foreach ($command in @(
                    { Get-MyVm }, { Get-MyVm -Name plant }, { New-MyVm -Name fresh }, { Start-MyVm -Name plant }, { Stop-MyVm -Name plant },
                    { Get-MyVmStats -Name plant }, { Get-MyVmConsole -Name plant }, { Repair-MyVm }, { Repair-MyVm -Name plant },
                    { Remove-MyVm -Name plant -Force })) {
                $r = Invoke-MyHvCapture $command
                [pscustomobject]@{ Command = "$command".Trim(); Output = $r.Output; Errors = $r.Errors }
            }
        }
        finally { $env:MYHV_HOME = $saved }
    }

    function Assert-AllRefused($Results, [string] $PathInMessage, [string] $Fix) {
        foreach ($r in $Results) {
            $r.Output | Should -BeNullOrEmpty -Because "$($r.Command) must not run"
            $r.Errors.Count | Should -Be 1 -Because "$($r.Command) is refused once"
            $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PrerequisiteMissing,*' -Because $r.Command
            $r.Errors[0].Exception.Message | Should -Match ([regex]::Escape($PathInMessage)) -Because $r.Command
            $r.Errors[0].Exception.Message | Should -Match ('Fix: .*' + [regex]::Escape($Fix)) -Because $r.Command
        }
    }
}

AfterAll {
    $env:MYHV_HOME = $script:safeHome
    Complete-MyHvTestSuite -HomePath $script:safeHome
    Assert-MyHvNoLeftovers -Home $script:scratch
}

Describe 'MYHV_HOME is checked as ssh checks ~/.ssh' {
    BeforeAll {
        # A home another user made 0777, holding a VM whose record would delete a folder of ours.
        $script:sentinel = Join-Path $script:scratch 'sentinel'
        $null = New-Item -ItemType Directory -Path (Join-Path $script:sentinel 'deep') -Force
        Set-Content -LiteralPath (Join-Path $script:sentinel 'deep/keep.txt') -Value 'keep'
        $script:plantedHome = Join-Path $script:scratch 'other'
        $env:MYHV_HOME = $script:plantedHome
        $null = New-MyVm -Name plant -ErrorAction Stop
        $env:MYHV_HOME = $script:safeHome
        $state = Join-Path $script:plantedHome 'vms/plant/state.json'
        Set-Content -LiteralPath $state -Value (@{ status = 'Failed'; artifacts = @(@{ seq = 1; kind = 'Directory'; step = 'x'; path = $script:sentinel }) } | ConvertTo-Json -Depth 4)
        Set-Owner -Path $script:plantedHome -Uid $script:nobody -Mode '0777'
        $script:plantedBefore = Get-MyHvTreeSnapshot -Path $script:plantedHome
    }

    It 'refuses every command in a home another user created 0777, naming it and the fix, and executes no planted record' {
        $results = @(Invoke-EveryCommand -HomePath $script:plantedHome)
        $results.Count | Should -Be 10
        Assert-AllRefused -Results $results -PathInMessage $script:plantedHome -Fix 'use a folder of your own'
        $results[0].Errors[0].Exception.Message | Should -Match "owned by uid $($script:nobody), not by you \(uid 0\)"
        Test-Path -LiteralPath (Join-Path $script:sentinel 'deep/keep.txt') | Should -BeTrue -Because 'the planted Directory record must never run'
        $after = Get-MyHvTreeSnapshot -Path $script:plantedHome
        $after | Should -Be $script:plantedBefore -Because 'nothing in the refused home is touched'
    }

    It 'the same record in a home of our own is acted on (so the refusal above is what protected the folder)' {
        $copy = Join-Path $script:scratch 'mine'
        & cp -a -- $script:plantedHome $copy
        Set-Owner -Path $copy -Uid 0 -Mode '0700'
        # Inside the VM's own runtime folder: the only place a Directory record may act on (records
        # reaching outside the VM are refused on their own; see HandEditedRecords).
        $decoy = Join-Path $copy 'run/plant'
        $null = New-Item -ItemType Directory -Path $decoy -Force
        $state = Join-Path $copy 'vms/plant/state.json'
        Set-Content -LiteralPath $state -Value (@{ status = 'Failed'; artifacts = @(@{ seq = 1; kind = 'Directory'; step = 'x'; path = $decoy }) } | ConvertTo-Json -Depth 4)
        $env:MYHV_HOME = $copy
        try { $null = Repair-MyVm -Name plant -ErrorAction Stop }
        finally { $env:MYHV_HOME = $script:safeHome }
        Test-Path -LiteralPath $decoy | Should -BeFalse
        Remove-Item -LiteralPath $copy -Recurse -Force
    }

    It 'refuses a home of our own that group or others may write (<Mode>), with chmod 700 as the fix' -TestCases @(
        @{ Mode = '0777' }, @{ Mode = '0770' }, @{ Mode = '0702' }
    ) {
        $h = Join-Path $script:scratch "w$Mode"
        $null = New-Item -ItemType Directory -Path $h
        Set-Owner -Path $h -Uid 0 -Mode $Mode
        $results = @(Invoke-EveryCommand -HomePath $h)
        Assert-AllRefused -Results $results -PathInMessage $h -Fix "chmod 700 '$h'"
        @(Get-ChildItem -LiteralPath $h -Force) | Should -BeNullOrEmpty
    }

    It 'refuses a home inside a folder owned by another user, or writable by others without the sticky bit: <Label>' -TestCases @(
        @{ Label = 'parent owned by nobody'; Uid = 65534; Mode = '0755'; Fix = 'put MYHV_HOME in a folder owned by you or root' }
        @{ Label = 'root-owned parent 0777'; Uid = 0; Mode = '0777'; Fix = 'chmod go-w' }
        @{ Label = 'root-owned parent 0775'; Uid = 0; Mode = '0775'; Fix = 'chmod go-w' }
    ) {
        $parent = Join-Path $script:scratch ('p' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        $h = Join-Path $parent 'home'
        $null = New-Item -ItemType Directory -Path $h -Force
        & chmod 0700 -- $h
        Set-Owner -Path $parent -Uid $Uid -Mode $Mode
        & chown -- 0:0 $h
        $results = @(Invoke-EveryCommand -HomePath $h)
        Assert-AllRefused -Results $results -PathInMessage $parent -Fix $Fix
        # A home that does not exist yet is judged by the folder it would be created in.
        $results = @(Invoke-EveryCommand -HomePath (Join-Path $parent 'not-yet'))
        Assert-AllRefused -Results $results -PathInMessage $parent -Fix $Fix
        Test-Path -LiteralPath (Join-Path $parent 'not-yet') | Should -BeFalse
    }

    It 'refuses a symbolic link that leads into such a folder (the real path is judged)' {
        $parent = Join-Path $script:scratch 'open'
        $null = New-Item -ItemType Directory -Path (Join-Path $parent 'home') -Force
        & chmod 0777 -- $parent
        $link = Join-Path $script:scratch 'link-home'
        $null = New-Item -ItemType SymbolicLink -Path $link -Target (Join-Path $parent 'home')
        $results = @(Invoke-EveryCommand -HomePath $link)
        Assert-AllRefused -Results $results -PathInMessage $parent -Fix 'chmod go-w'
    }

    It 'accepts a home in a sticky folder (as /tmp), one 0755 of our own, and creates a missing one 0700 with its missing parents' {
        $sticky = Join-Path $script:scratch 'sticky'
        $null = New-Item -ItemType Directory -Path $sticky
        & chmod 1777 -- $sticky
        $fresh = Join-Path $sticky 'a/b/home'
        $env:MYHV_HOME = $fresh
        try {
            $vm = New-MyVm -Name ok1 -ErrorAction Stop
            $vm.Name | Should -Be 'ok1'
            (Get-MyVm -Name ok1).Status | Should -Be 'Stopped'
            Remove-MyVm -Name ok1 -Force -ErrorAction Stop
        }
        finally { $env:MYHV_HOME = $script:safeHome }
        foreach ($dir in "$sticky/a", "$sticky/a/b", $fresh, "$fresh/vms", "$fresh/locks") {
            (& stat -c '%a %u' -- $dir) | Should -Be '700 0' -Because "$dir is created private"
        }
        $open = Join-Path $script:scratch 'own755'
        $null = New-Item -ItemType Directory -Path $open
        & chmod 0755 -- $open
        $env:MYHV_HOME = $open
        try { @(Get-MyVm -ErrorAction Stop) | Should -BeNullOrEmpty }
        finally { $env:MYHV_HOME = $script:safeHome }
    }

    It 'Test-MyVmHost still reports in a refused home (it reads nothing there)' {
        $env:MYHV_HOME = $script:plantedHome
        try { $checks = @(Test-MyVmHost -ErrorAction Stop) }
        finally { $env:MYHV_HOME = $script:safeHome }
        $checks.Count | Should -BeGreaterThan 0
        ($checks | Where-Object Check -EQ 'Qemu').Ok | Should -BeTrue
    }
}

Describe 'Every artifact is 0600 (files and sockets) or 0700 (folders)' {
    BeforeAll {
        # Mode, type and path of every entry under the home; entries below a mount point (a read-only
        # bind mount of the user's shared folder, whose modes are the user's) are not the module's.
        $script:listing = @'
function Get-Listing([string] $HomePath) {
    $mounts = @(foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $p = [regex]::Replace($line.Split(' ')[4], '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
        if ($p.StartsWith("$HomePath/")) { $p } })
    $entries = @(& find $HomePath -printf '%m %y %p\n')
    $lock = $HomePath.Replace('/', '.')
    $locks = @(& find /run/virtiofsd -maxdepth 1 -name "*$lock*" -printf '%m %y %p\n' 2>$null)
    [pscustomobject]@{
        Entries = @($entries | Where-Object { $e = $_.Split(' ', 3)[2]; -not @($mounts | Where-Object { $e.StartsWith("$_/") }) })
        Mounts = $mounts
        LockFiles = $locks
    }
}
'@
        $script:ns = New-MyHvTestNamespace
        $script:nsHome = New-MyHvTestDir -Prefix 'mhM'
        $script:rw = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'rwshare')).FullName
        $script:ro = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'roshare')).FullName
        & chmod 0755 -- $script:ro
        # MYHV_ACCEL=auto: the accelerator probe runs and caches its answer under cache/.
        $script:child = Invoke-MyHvChild -Namespace $script:ns -Environment @{ MYHV_HOME = $script:nsHome; MYHV_ACCEL = 'auto' } -TimeoutSeconds 300 -Body ($script:listing + @"
`$null = New-MyVm -Name perm -Bridge br0 -IPAddress 10.77.0.9/24 -Gateway 10.77.0.1 -Volume @(@{ Path = '$($script:rw)'; Tag = 'rw' }, @{ Path = '$($script:ro)'; Tag = 'ro'; ReadOnly = `$true })
Start-MyVm -Name perm -Wait -TimeoutSeconds 150
`$vm = Get-MyVm -Name perm
`$r.Status = "`$(`$vm.Status)"
`$r.Tap = `$vm.TapDevice
`$l = Get-Listing '$($script:nsHome)'
`$r.Entries = `$l.Entries
`$r.Mounts = `$l.Mounts
`$r.LockFiles = `$l.LockFiles
`$r.Stopped = "`$((Stop-MyVm -Name perm -PassThru).Status)"
Remove-MyVm -Name perm -Force
"@)
        $script:running = $script:child.Result
    }
    AfterAll {
        Complete-MyHvTestSuite -HomePath $script:nsHome -Namespace $script:ns -CensusOnly
    }

    It 'lists a running VM with volumes, a bridge and its channel, and every expected artifact' {
        Assert-MyHvChildRan -Run $script:child
        $script:running.Status | Should -Be 'Running'
        $script:running.Tap | Should -Match '^mh'
        $script:running.Stopped | Should -Be 'Stopped'
        $h = $script:nsHome
        $paths = @($script:running.Entries | ForEach-Object { $_.Split(' ', 3)[2] })
        foreach ($expected in "$h/vms", "$h/vms/perm", "$h/vms/perm/definition.json", "$h/vms/perm/state.json", "$h/vms/perm/disk.qcow2",
            "$h/vms/perm/console.log", "$h/run", "$h/run/perm", "$h/run/perm/api.sock", "$h/run/perm/channel.sock", "$h/run/perm/hypervisor.pid",
            "$h/run/perm/fs-rw.sock", "$h/run/perm/fs-rw.pid", "$h/run/perm/fs-rw.log", "$h/run/perm/fs-ro.sock", "$h/run/perm/fs-ro.pid",
            "$h/run/perm/fs-ro.log", "$h/locks", "$h/locks/perm.lock", "$h/cache", "$h/cache/accelerator.json") {
            $paths | Should -Contain $expected
        }
        @($script:running.LockFiles).Count | Should -Be 2 -Because 'the C virtiofsd keeps one lock file per volume under /run/virtiofsd'
        @($script:running.Mounts) | Should -Be @("$h/run/perm/ro-ro")
    }

    It 'every file and socket is 0600 and every folder 0700 (virtiofsd''s lock files under /run/virtiofsd too)' {
        $wrong = @(foreach ($line in @($script:running.Entries) + @($script:running.LockFiles)) {
                $mode, $type, $path = $line.Split(' ', 3)
                if ($path -eq $script:nsHome) { continue }   # made by the test (mktemp), not by the module
                if ($path -in @($script:running.Mounts)) { continue }   # shows the shared folder's own mode
                $want = if ($type -eq 'd') { '700' } else { '600' }
                if ($mode -ne $want) { "$path ($type) is $mode, not $want" }
            })
        $wrong | Should -BeNullOrEmpty
    }

    It 'a start killed mid-way leaves its journal and files private too, and the next command rolls it back' {
        $h = New-MyHvTestDir -Prefix 'mhK'
        $env:MYHV_HOME = $h
        try {
            $null = New-MyVm -Name killed -Network None -Volume @{ Path = $script:rw; Tag = 'rw' } -ErrorAction Stop
            $child = Invoke-MyHvChild -Environment @{ MYHV_HOME = $h; MYHV_FAILPOINTS = 'start.hypervisor-launch=kill' } -Body "Start-MyVm -Name killed`n`$r.Survived = `$true"
            $child.Result | Should -BeNullOrEmpty -Because 'the child dies at the fail point'
            $entries = @(& find $h -mindepth 1 -printf '%m %y %p\n')
            $entries | Should -Contain "600 f $h/vms/killed/start.journal"
            foreach ($path in "$h/run/killed/api.sock", "$h/run/killed/channel.sock", "$h/vms/killed/console.log", "$h/run/killed/fs-rw.sock") {
                @($entries | Where-Object { $_.EndsWith(" $path") }).Count | Should -Be 1 -Because "$path exists at the kill"
            }
            $wrong = @($entries | Where-Object { $m, $t, $p = $_.Split(' ', 3); $m -ne $(if ($t -eq 'd') { '700' } else { '600' }) })
            $wrong | Should -BeNullOrEmpty
            (Get-MyVm -Name killed).Status | Should -Be 'Failed'
            Test-Path -LiteralPath "$h/vms/killed/start.journal" | Should -BeFalse
            Remove-MyVm -Name killed -Force
        }
        finally { $env:MYHV_HOME = $script:safeHome }
        Assert-MyHvNoLeftovers -Home $h
    }
}
