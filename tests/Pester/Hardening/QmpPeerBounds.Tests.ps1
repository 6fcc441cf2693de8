# Every QMP call has ONE deadline for the whole call (connect, greeting, negotiation, reply) and a
# maximum line length, so a hostile or stuck peer gives a clear error within the deadline. The
# peer is a fake QMP server (FakeQmpPeer.cs, a unix socket server on threads of this process) and
# the client is the module's own Core QmpClient, called through the built assembly.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    Initialize-MyHvFakePeer
    $script:dir = New-MyHvTestDir -Prefix 'mhQmp'
    $script:deadline = [TimeSpan]::FromSeconds(2)
    # The host is shared and often loaded: a late wake-up may add a little to the deadline, never seconds.
    $script:slackMs = 2500

    # Calls one QMP command against a fake peer; returns the outcome, what was thrown, and how long it took.
    function Invoke-FakeCall([string] $Mode, [string] $Command = 'query-status', [System.Threading.CancellationToken] $Cancel = [System.Threading.CancellationToken]::None) {
        $socket = Join-Path $script:dir "$Mode.sock"
        $peer = [MyHvTests.FakeQmpPeer]::new($socket, $Mode)
        try {
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $value = $null
            $thrown = $null
            try { $value = [MyHypervisor.Core.Hypervisors.Qemu.QmpClient]::Call($socket, $Command, $script:deadline, $false, $Cancel) }
            catch { $thrown = $_.Exception.InnerException ?? $_.Exception }
            $elapsed = $watch.ElapsedMilliseconds
            [pscustomobject]@{ Value = $value; Thrown = $thrown; ElapsedMs = $elapsed; BytesSent = $peer.BytesSent; WorkingSet = [System.Diagnostics.Process]::GetCurrentProcess().WorkingSet64 }
        }
        finally { $peer.Dispose() }
    }
}

AfterAll {
    Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'QMP calls against a fake peer' {
    It 'a well-behaved peer is answered (the fake speaks QMP; events between replies are set aside)' {
        $r = Invoke-FakeCall -Mode good
        $r.Thrown | Should -BeNullOrEmpty
        $r.Value['running'].GetValue[bool]() | Should -BeTrue
    }

    It 'a peer that never greets fails within the deadline' {
        $r = Invoke-FakeCall -Mode nogreeting
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Hypervisors.Qemu.QmpConnectionException])
        $r.Thrown.Message | Should -Match 'within 2 s'
        $r.ElapsedMs | Should -BeGreaterOrEqual 1900
        $r.ElapsedMs | Should -BeLessThan (2000 + $script:slackMs)
    }

    It 'a peer that greets and never answers fails within the deadline' {
        $r = Invoke-FakeCall -Mode silent
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Hypervisors.Qemu.QmpConnectionException])
        $r.Thrown.Message | Should -Match 'within 2 s'
        $r.ElapsedMs | Should -BeGreaterOrEqual 1900
        $r.ElapsedMs | Should -BeLessThan (2000 + $script:slackMs)
    }

    It 'a peer that trickles a reply one byte at a time fails within the deadline (one deadline per call, not per receive)' {
        $r = Invoke-FakeCall -Mode trickle
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Hypervisors.Qemu.QmpConnectionException])
        $r.Thrown.Message | Should -Match 'within 2 s'
        $r.ElapsedMs | Should -BeLessThan (2000 + $script:slackMs)
        ($r.BytesSent - [MyHvTests.FakeQmpPeer]::GreetingBytes) | Should -BeGreaterThan 5 -Because 'the peer kept trickling bytes of the reply all along'
    }

    It 'a peer that floods events and never replies fails within the deadline' {
        $r = Invoke-FakeCall -Mode flood
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Hypervisors.Qemu.QmpConnectionException])
        $r.Thrown.Message | Should -Match 'within 2 s'
        $r.ElapsedMs | Should -BeLessThan (2000 + $script:slackMs)
        $r.BytesSent | Should -BeGreaterThan (1MB) -Because 'the flood really flowed'
    }

    It 'a peer that sends a 100 MB line is cut off at the line limit, at once' {
        $before = [System.Diagnostics.Process]::GetCurrentProcess().WorkingSet64
        $r = Invoke-FakeCall -Mode hugeline
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Hypervisors.Qemu.QmpConnectionException])
        $r.Thrown.Message | Should -Match 'longer than 1024 KiB'
        $r.ElapsedMs | Should -BeLessThan (2000 + $script:slackMs)
        $r.BytesSent | Should -BeLessThan (20MB) -Because 'the client stopped reading at the limit instead of taking all 100 MB'
        ($r.WorkingSet - $before) | Should -BeLessThan (64MB) -Because 'nothing near 100 MB was buffered'
    }

    It 'a call waiting on a silent peer ends as soon as it is cancelled' {
        $source = [System.Threading.CancellationTokenSource]::new()
        $source.CancelAfter(300)
        $r = Invoke-FakeCall -Mode silent -Cancel $source.Token
        $r.Thrown | Should -BeOfType ([System.OperationCanceledException])
        $r.ElapsedMs | Should -BeLessThan 1500
    }

    It 'the limits are what the README documents' {
        [MyHypervisor.Core.Hypervisors.Qemu.QmpClient]::MaxLineBytes | Should -Be (1MB)
        [MyHypervisor.Core.Hypervisors.Qemu.QmpClient]::MaxEvents | Should -Be 256
    }
}
