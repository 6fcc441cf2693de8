# The guest agent's connection reads its lines with the same bounded reader as QMP
# (Protocols/JsonLineReader), under the agent's own rules: what stands before the sync's 0xFF
# sentinel is stale and dropped, a line that is not a JSON object (or answers another request) is
# skipped, a line over 64 MiB ends the call with a clear error instead of being held, and a closed
# port or a silent agent says so. The peer is a fake agent (FakeGuestAgentPeer.cs, a unix socket
# server on threads of this process); the client is the module's own Core GuestAgentConnection.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    Initialize-MyHvFakePeer
    $script:dir = New-MyHvTestDir -Prefix 'mhGa'

    # Opens a connection to a fake agent (the sync) and runs guest-info on it; returns the value, what was thrown, and what the peer sent.
    function Invoke-FakeAgent([string] $Mode, [double] $Seconds = 10) {
        $socket = Join-Path $script:dir "$Mode.sock"
        $peer = [MyHvTests.FakeGuestAgentPeer]::new($socket, $Mode)
        try {
            $value = $null
            $thrown = $null
            $connection = $null
            try {
                $wait = [TimeSpan]::FromSeconds($Seconds)
                $connection = [MyHypervisor.Core.Guest.GuestAgentConnection]::Open($socket, $wait, [System.Threading.CancellationToken]::None)
                $value = $connection.Execute('guest-info', $null, $wait, [System.Threading.CancellationToken]::None)
            }
            catch { $thrown = $_.Exception.InnerException ?? $_.Exception }
            finally { if ($connection) { $connection.Dispose() } }
            [pscustomobject]@{ Value = $value; Thrown = $thrown; BytesSent = $peer.BytesSent }
        }
        finally { $peer.Dispose() }
    }
}

AfterAll {
    Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Guest agent connections against a fake agent' {
    It 'syncs past stale text and half a line before the sentinel, and skips blank lines, garbage, non-objects, replies to other ids and half a line cut by a sentinel' {
        $r = Invoke-FakeAgent -Mode noisy
        $r.Thrown | Should -BeNullOrEmpty
        $r.Value['version'].GetValue[string]() | Should -Be 'fake' -Because 'only the reply carrying the request''s id counts'
    }

    It 'a call that timed out holding half a reply resyncs past it: the next call on the connection reads only its own reply' {
        $socket = Join-Path $script:dir 'stalls.sock'
        $peer = [MyHvTests.FakeGuestAgentPeer]::new($socket, 'stalls')
        $none = [System.Threading.CancellationToken]::None
        $connection = $null
        try {
            $connection = [MyHypervisor.Core.Guest.GuestAgentConnection]::Open($socket, [TimeSpan]::FromSeconds(10), $none)
            $thrown = $null
            try { $null = $connection.Execute('guest-info', $null, [TimeSpan]::FromSeconds(1), $none) }
            catch { $thrown = $_.Exception.InnerException ?? $_.Exception }
            $thrown | Should -BeOfType ([MyHypervisor.Core.Guest.GuestAgentUnavailableException])
            $thrown.Message | Should -Match 'did not answer guest-info within 1 s'
            $value = $connection.Execute('guest-info', $null, [TimeSpan]::FromSeconds(10), $none)
            $value['version'].GetValue[string]() | Should -Be 'fake'
        }
        finally {
            if ($connection) { $connection.Dispose() }
            $peer.Dispose()
        }
    }

    It 'an agent that sends a 100 MB line is cut off at the 64 MiB limit' {
        $r = Invoke-FakeAgent -Mode hugeline
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Guest.GuestAgentUnavailableException])
        $r.Thrown.Message | Should -Match 'longer than 64 MiB'
        $r.BytesSent | Should -BeLessThan (80MB) -Because 'the client stopped reading at the limit instead of taking all 100 MB'
    }

    It 'an agent port that closes is reported as closed' {
        $r = Invoke-FakeAgent -Mode closes
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Guest.GuestAgentUnavailableException])
        $r.Thrown.Message | Should -Match 'closed its guest agent port'
    }

    It 'an agent that never answers the sync is reported as not answering' {
        $r = Invoke-FakeAgent -Mode silent -Seconds 2
        $r.Thrown | Should -BeOfType ([MyHypervisor.Core.Guest.GuestAgentUnavailableException])
        $r.Thrown.Message | Should -Match 'did not answer within 2 s'
    }

    It 'the line limit is what the README documents' {
        [MyHypervisor.Core.Guest.GuestAgentConnection]::MaxLineBytes | Should -Be (64MB)
    }
}
