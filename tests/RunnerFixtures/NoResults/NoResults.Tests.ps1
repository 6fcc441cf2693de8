# A passing test that makes the results export impossible: it puts a directory where the runner's
# child will write its results file. The path is not on the child's command line any more, so it
# is found from the runner's own command line (-OutputDir) and the suite's folder name.
Describe 'sabotaged export' {
    It 'passes, then blocks the results file' {
        $argv = @((Get-Content -LiteralPath "/proc/$((Get-Process -Id $PID).Parent.Id)/cmdline" -Raw) -split "`0")
        $out = $argv[[array]::IndexOf($argv, '-OutputDir') + 1]
        foreach ($dir in Get-ChildItem -LiteralPath (Join-Path $out 'suites') -Directory | Where-Object Name -Like '*NoResults*') {
            New-Item -ItemType Directory -Path (Join-Path $dir.FullName 'results.json') -Force | Out-Null
        }
        1 | Should -Be 1
    }
}
