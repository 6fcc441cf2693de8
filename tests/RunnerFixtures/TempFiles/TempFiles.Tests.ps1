# What a suite's processes leave in the temp folder goes with the suite's temp root: the runner
# points TMPDIR inside it. A pwsh killed with SIGKILL never removes its diagnostic socket and debug
# pipes (dotnet-diagnostic-<pid>-<key>-socket, clr-debug-pipe-<pid>-<key>-in/out). The temp folder
# and the killed pwsh's pid go to $env:MYHV_FIXTURE_OUT/temp.txt, for the test to look after the run.
Describe 'temporary files' {
    It 'a pwsh killed mid-test leaves its diagnostic socket in the temp folder' {
        $temp = [System.IO.Path]::GetTempPath()
        $psi = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -ne 'pwsh') { $psi.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($arg in '-NoProfile', '-NonInteractive', '-Command', 'Start-Sleep -Seconds 600') { $psi.ArgumentList.Add($arg) }
        $psi.RedirectStandardInput = $psi.RedirectStandardOutput = $psi.RedirectStandardError = $true
        $child = [System.Diagnostics.Process]::Start($psi)
        if ($env:MYHV_FIXTURE_OUT) { Set-Content -LiteralPath (Join-Path $env:MYHV_FIXTURE_OUT 'temp.txt') -Value $temp, $child.Id }
        $socket = "dotnet-diagnostic-$($child.Id)-*-socket"
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-ChildItem -LiteralPath $temp -Filter $socket) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $child.Kill(); $child.WaitForExit()
        Get-ChildItem -LiteralPath $temp -Filter $socket | Should -HaveCount 1
    }
}
