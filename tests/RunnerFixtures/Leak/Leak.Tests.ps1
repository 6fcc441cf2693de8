# A passing test that leaves two processes behind: one in the suite's process group, and one that
# escapes into its own session but names MYHV_TEST_ROOT on its command line.
# Pids go to $env:MYHV_FIXTURE_OUT/leak.pids.
Describe 'a leaky test' {
    It 'passes but leaks' {
        $log = Join-Path $env:MYHV_TEST_ROOT 'leak.log'
        Set-Content -LiteralPath $log -Value 'leak'
        $inGroup = [System.Diagnostics.Process]::Start('sleep', [string[]] @('600'))
        $escaped = [System.Diagnostics.Process]::Start('setsid', [string[]] @('tail', '-f', $log))
        if ($env:MYHV_FIXTURE_OUT) { Set-Content -LiteralPath (Join-Path $env:MYHV_FIXTURE_OUT 'leak.pids') -Value @($inGroup.Id, $escaped.Id) }
        1 | Should -Be 1
    }
}
