# A hostile suite: it looks for the goodbye key everywhere it can reach (command line,
# environment, every variable of every scope and of every runspace), writes a passing goodbye and
# results file where the runner will look, then ends the process with exit code 0.
Describe 'forges a goodbye' {
    It 'searches, forges and exits' {
        $hex = '[0-9A-Fa-f]{32,}'
        $found = [System.Collections.Generic.List[string]]::new()
        foreach ($a in [Environment]::GetCommandLineArgs()) { if ($a -match $hex) { $found.Add("argv: $a") } }
        foreach ($e in (Get-ChildItem env:)) { if ("$($e.Value)" -match $hex) { $found.Add("env: $($e.Name)") } }
        for ($scope = 0; $scope -lt 50; $scope++) {
            try { foreach ($v in Get-Variable -Scope $scope -ErrorAction Stop) { if ("$($v.Value)" -match "^$hex$") { $found.Add("scope ${scope}: $($v.Name)") } } } catch { break }
        }
        foreach ($rs in Get-Runspace) {
            try { foreach ($name in 'job', 'line', 'mac', 'key') { $val = $rs.SessionStateProxy.GetVariable($name); if ($val) { $found.Add("runspace $($rs.Id): $name") } } } catch { }
        }
        if ($env:MYHV_FIXTURE_OUT) { Set-Content -LiteralPath (Join-Path $env:MYHV_FIXTURE_OUT 'found.txt') -Value $found }
        $argv = @((Get-Content -LiteralPath "/proc/$((Get-Process -Id $PID).Parent.Id)/cmdline" -Raw) -split "`0")
        $out = $argv[[array]::IndexOf($argv, '-OutputDir') + 1]
        foreach ($dir in Get-ChildItem -LiteralPath (Join-Path $out 'suites') -Directory | Where-Object Name -Like '*ForgedGoodbye*') {
            $results = '{"tests":[{"name":"a","path":"a","block":"b","result":"Passed","seconds":0,"message":""}]}'
            Set-Content -LiteralPath (Join-Path $dir.FullName 'results.json') -Value $results -NoNewline
            $sha = (Get-FileHash -LiteralPath (Join-Path $dir.FullName 'results.json') -Algorithm SHA256).Hash
            $record = @{ pid = $PID; error = $null; results = $sha; run = @{ result = 'Passed'; total = 1; passed = 1; failed = 0; skipped = 0; inconclusive = 0; notRun = 0; failedBlocks = 0; failedContainers = 0; reachedLines = @(4, 5) } } | ConvertTo-Json -Compress
            $mac = if ($found.Count) { 'guessed' } else { '00' * 32 }
            Set-Content -LiteralPath (Join-Path $dir.FullName 'goodbye.json') -Value (@{ record = $record; mac = $mac } | ConvertTo-Json -Compress)
        }
        [Environment]::Exit(0)
    }
}
