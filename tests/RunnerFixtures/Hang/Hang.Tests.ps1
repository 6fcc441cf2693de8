# Hangs past any short timeout, with a child process that ignores SIGTERM (only SIGKILL ends it).
# Pids go to $env:MYHV_FIXTURE_OUT/hang.pids so the runner's tests can check both are gone.
Describe 'a test that hangs' {
    It 'sleeps forever' {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($a in '-c', 'trap "" TERM; exec sleep 600') { $psi.ArgumentList.Add($a) }
        $child = [System.Diagnostics.Process]::Start($psi)
        if ($env:MYHV_FIXTURE_OUT) { Set-Content -LiteralPath (Join-Path $env:MYHV_FIXTURE_OUT 'hang.pids') -Value @($PID, $child.Id) }
        Write-Host "hanging: pwsh $PID, child $($child.Id)"
        Start-Sleep -Seconds 600
    }
}
