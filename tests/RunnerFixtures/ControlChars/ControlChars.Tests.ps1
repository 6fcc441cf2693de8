# 13 failures whose messages hold ANSI colour codes and other control characters (as a native
# tool's output does), and 1 pass. Pester's own NUnit export fails on such messages; the counts
# must still be exact: 1 passed, 13 failed.
Describe 'native output in failures' {
    It 'passes' { 1 | Should -Be 1 }
    It 'fails <_>' -ForEach (1..13) {
        throw "`e[31mred $_`e[0m bell`a nul`0 vt`v ff`f backspace`b end"
    }
}
