# Bounded resources on the guest's side of the host: console.log is capped at 1 MiB per file
# (the newest output kept, one rotated file console.log.1; QEMU appends, the module's commands
# rotate), readiness detection reads only what is new, and the guest channel's buffer is bounded.
# Unit-level checks call the built Core assembly; the last block floods the console of a real VM.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    Initialize-MyHvFakePeer
    $script:dir = New-MyHvTestDir -Prefix 'mhCb'
    $script:cap = [MyHypervisor.Core.Lifecycle.ConsoleLog]::CapBytes
    $script:lineBytes = 13   # "line 0000000\n"

    function New-LineFile([string] $Path, [int] $First, [int] $Count) {
        $text = [System.Text.StringBuilder]::new()
        for ($i = $First; $i -lt $First + $Count; $i++) { $null = $text.Append(('line {0:D7}' -f $i)).Append("`n") }
        [System.IO.File]::AppendAllText($Path, $text.ToString())
    }
}

AfterAll {
    Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'console.log rotation' {
    It 'the cap is 1 MiB, as documented' {
        $script:cap | Should -Be (1MB)
    }

    It 'a log over the cap keeps its newest 1 MiB in console.log.1 and starts again empty' {
        $log = Join-Path $script:dir 'r1.log'
        New-LineFile -Path $log -First 0 -Count 250000   # 3.1 MiB
        $original = [System.IO.File]::ReadAllBytes($log)
        [MyHypervisor.Core.Lifecycle.ConsoleLog]::Bound($log) | Should -BeTrue
        (Get-Item -LiteralPath $log).Length | Should -Be 0
        $rotated = [System.IO.File]::ReadAllBytes("$log.1")
        $rotated.Length | Should -Be $script:cap
        [Convert]::ToBase64String($rotated) | Should -Be ([Convert]::ToBase64String($original[($original.Length - $script:cap)..($original.Length - 1)])) -Because 'the newest bytes are the ones kept'
        (& stat -c '%a' -- "$log.1") | Should -Be '600'
        [MyHypervisor.Core.Lifecycle.ConsoleLog]::Bound($log) | Should -BeFalse -Because 'an empty log is under the cap'
    }

    It 'a log under the cap is left alone' {
        $log = Join-Path $script:dir 'r2.log'
        New-LineFile -Path $log -First 0 -Count 1000
        [MyHypervisor.Core.Lifecycle.ConsoleLog]::Bound($log) | Should -BeFalse
        (Get-Item -LiteralPath $log).Length | Should -Be (1000 * $script:lineBytes)
        "$log.1" | Should -Not -Exist
    }

    It 'Tail reads across the rotation, newest last' {
        $log = Join-Path $script:dir 'r3.log'
        New-LineFile -Path $log -First 0 -Count 100000
        $null = [MyHypervisor.Core.Lifecycle.ConsoleLog]::Bound($log)
        New-LineFile -Path $log -First 100000 -Count 2
        $tail = @([MyHypervisor.Core.Lifecycle.ConsoleLog]::Tail($log, 3))
        $tail | Should -Be @('line 0099999', 'line 0100000', 'line 0100001')
    }
}

Describe 'Readiness reads only what is new; the channel buffer is bounded' {
    It 'the readiness wait reads each console byte once, across a rotation, and finds a line split between two writes' {
        $log = Join-Path $script:dir 'ready.log'
        [System.IO.File]::WriteAllText($log, '')
        $chunk = ('x' * 1023 + "`n") * 64   # 64 KiB per tick
        $counter = @{ Ticks = 0 }
        $tick = [Action[TimeSpan]] {
            param($elapsed)
            $counter.Ticks++
            if ($counter.Ticks -le 24) { [System.IO.File]::AppendAllText($log, $chunk) }   # 1.5 MiB: over the cap
            elseif ($counter.Ticks -eq 25) { [System.IO.File]::AppendAllText($log, 'boot done; myhv-gu') }
            elseif ($counter.Ticks -eq 26) { [System.IO.File]::AppendAllText($log, "est: ready`n") }
        }.GetNewClosure()
        $follower = [MyHypervisor.Core.Lifecycle.ConsoleFollower]::new($log, 'myhv-guest: ready')
        $source = [MyHypervisor.Core.Lifecycle.GuestReadiness]::Wait($null, $follower, [TimeSpan]::FromSeconds(60), [Func[bool]] { $true }, $tick,
            [System.Threading.CancellationToken]::None)
        "$source" | Should -Be 'Console'
        $written = 24 * $chunk.Length + 'boot done; myhv-gu'.Length + "est: ready`n".Length
        $follower.BytesRead | Should -Be $written -Because 'each byte is read once, however many times the wait looked (no whole-file re-read)'
        $counter.Ticks | Should -BeGreaterOrEqual 26
        "$log.1" | Should -Exist -Because 'the log grew over the cap during the wait and was rotated by it'
        (Get-Item -LiteralPath $log).Length | Should -BeLessOrEqual $script:cap
    }

    It 'the channel matcher holds at most a READY-sized tail, and finds READY split across chunks' {
        $matcher = [MyHypervisor.Core.Lifecycle.BoundedMatcher]::new('READY')
        $noise = [byte[]]::new(4096)
        $matched = $false
        for ($i = 0; $i -lt 2560; $i++) { $matched = $matcher.Feed($noise) -or $matched }   # 10 MiB
        $matched | Should -BeFalse
        $matcher.Buffered | Should -BeLessOrEqual 4
        $matcher.Feed([System.Text.Encoding]::ASCII.GetBytes('..RE')) | Should -BeFalse
        $matcher.Feed([System.Text.Encoding]::ASCII.GetBytes('ADY')) | Should -BeTrue
    }

    It 'a guest channel that floods 20 MB before READY is read through with bounded memory' {
        $socket = Join-Path $script:dir 'chan.sock'
        $peer = [MyHvTests.FakeQmpPeer]::new($socket, 'channelflood')
        try {
            [GC]::Collect(); [GC]::WaitForPendingFinalizers()   # earlier tests' garbage is not this test's
            $before = [System.Diagnostics.Process]::GetCurrentProcess().WorkingSet64
            $source = [MyHypervisor.Core.Lifecycle.GuestReadiness]::Wait($socket, (Join-Path $script:dir 'none.log'), 'never printed', [TimeSpan]::FromSeconds(60),
                [Func[bool]] { $true }, $null, [System.Threading.CancellationToken]::None)
            "$source" | Should -Be 'Channel'
            $peer.BytesSent | Should -BeGreaterThan (20MB)
            ([System.Diagnostics.Process]::GetCurrentProcess().WorkingSet64 - $before) | Should -BeLessThan (16MB) -Because 'the 20 MB were not kept'
        }
        finally { $peer.Dispose() }
    }
}

Describe 'A real guest flooding its console' {
    BeforeAll {
        $script:vmHome = New-MyHvTestHome
        $env:MYHV_ACCEL = 'tcg'
        $script:share = New-MyHvTestDir -Prefix 'mhCf'
        # In the background, so the boot goes on: ~2.6 MB of numbered lines straight to the console.
        Set-Content -LiteralPath (Join-Path $script:share 'myhv-boot.sh') -NoNewline -Value @'
( seq 1 30000 | sed 's/^/myhv-flood: /; s/$/ 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/' > /dev/console
  echo 'myhv-flood: done' > /dev/console ) </dev/null >/dev/null 2>&1 &
echo started

'@
        $script:canRun = [bool] (Get-Command qemu-system-x86_64 -ErrorAction Ignore) -and (Test-Path /usr/lib/qemu/virtiofsd)
    }

    AfterAll {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
        Assert-MyHvNoLeftovers -Home $script:vmHome
    }

    It 'keeps console.log and console.log.1 under the cap while the guest writes far more; Get-MyVmConsole shows the newest lines' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64 and virtiofsd' -Condition $script:canRun
        $null = New-MyVm -Name 'flood' -Image tiny -Volume @{ Path = $script:share; Tag = 'boot'; ReadOnly = $true }
        Start-MyVm -Name 'flood' -Wait -TimeoutSeconds 180 -ErrorAction Stop
        $paths = Get-MyHvVmPath -HomePath $script:vmHome -Name 'flood'
        $largest = 0
        $deadline = [DateTime]::UtcNow.AddSeconds(240)
        do {
            Start-Sleep -Milliseconds 500
            $null = Get-MyVm -Name 'flood'   # any command that opens the VM keeps its log bounded
            $largest = [Math]::Max($largest, (Get-Item -LiteralPath $paths.Console).Length)
            $last = @(Get-MyVmConsole -Name 'flood' -Tail 1)
        } until (($last -and $last[-1] -eq 'myhv-flood: done') -or [DateTime]::UtcNow -gt $deadline)
        $last[-1] | Should -Be 'myhv-flood: done' -Because 'the guest finished its flood, and the newest line is shown'
        $null = Get-MyVm -Name 'flood'
        $log = Get-Item -LiteralPath $paths.Console
        $rotated = Get-Item -LiteralPath "$($paths.Console).1"
        $log.Length | Should -BeLessOrEqual $script:cap
        $rotated.Length | Should -BeLessOrEqual $script:cap
        ($log.Length + $rotated.Length) | Should -BeLessThan (2.5MB) -Because 'the guest wrote about 2.6 MB, and only the newest 2 MiB at most are kept'
        $largest | Should -BeLessThan (2.5MB)
        $head = [byte[]]::new(16)
        $stream = [System.IO.File]::OpenRead($log.FullName)
        try { $n = $stream.Read($head, 0, 16) } finally { $stream.Dispose() }
        if ($n -gt 0) { $head[0] | Should -Not -Be 0 -Because 'QEMU appends: after a truncation it writes at the new start, not into a sparse hole' }
        $tail = @(Get-MyVmConsole -Name 'flood' -Tail 50)
        $numbers = @($tail | Where-Object { $_ -match '^myhv-flood: (\d+) ' } | ForEach-Object { [int] $Matches[1] })
        $numbers[-1] | Should -Be 30000
        Stop-MyVm -Name 'flood' -Force
        @(Get-MyVmConsole -Name 'flood' -Tail 1) | Should -Be @('myhv-flood: done') -Because 'the log is kept after the VM stops'
    }
}
