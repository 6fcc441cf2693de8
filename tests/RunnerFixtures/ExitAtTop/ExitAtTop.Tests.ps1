# `exit 3` at the top: Pester discovers nothing after it and reports Passed with 0 tests.
exit 3

Describe 'never discovered' {
    It 'one' { 1 | Should -Be 1 }
    It 'two' { 2 | Should -Be 2 }
}
