# A passing test that leaves a daemon which, once the child has said goodbye, replaces the goodbye
# record with a FIFO (a reader that opened it would block forever). The runner must not hang.
Describe 'fifo goodbye' {
    It 'passes and leaves a saboteur' {
        $argv = @((Get-Content -LiteralPath "/proc/$((Get-Process -Id $PID).Parent.Id)/cmdline" -Raw) -split "`0")
        $out = $argv[[array]::IndexOf($argv, '-OutputDir') + 1]
        $dir = @(Get-ChildItem -LiteralPath (Join-Path $out 'suites') -Directory | Where-Object Name -Like '*FifoGoodbye*')[0].FullName
        $g = Join-Path $dir 'goodbye.json'
        & setsid -f sh -c "exec </dev/null >/dev/null 2>&1; while [ ! -f '$g' ]; do sleep 0.02; done; rm -f '$g'; mkfifo '$g'; exec sleep 600"
        1 | Should -Be 1
    }
}
