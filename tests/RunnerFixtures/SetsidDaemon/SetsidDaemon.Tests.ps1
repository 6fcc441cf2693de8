# A passing test that starts daemons in new sessions (setsid -f): one keeps its environment, one
# starts with an empty environment (env -i). Neither is in the suite's group, session or ancestry,
# and neither names MYHV_TEST_ROOT. Their pids go to $env:MYHV_FIXTURE_OUT/daemon.pids.
Describe 'detached daemons' {
    It 'passes but leaves daemons' {
        $pids = Join-Path ([System.IO.Path]::GetTempPath()) "daemon-$PID.pids"
        if ($env:MYHV_FIXTURE_OUT) { $pids = Join-Path $env:MYHV_FIXTURE_OUT 'daemon.pids' }
        & setsid -f sh -c "exec </dev/null >/dev/null 2>&1; echo `$`$ >> '$pids'; exec sleep 600"
        & setsid -f env -i sh -c "exec </dev/null >/dev/null 2>&1; echo `$`$ >> '$pids'; exec sleep 601"
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while (@(Get-Content -LiteralPath $pids -ErrorAction SilentlyContinue).Count -lt 2 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        1 | Should -Be 1
    }
}
