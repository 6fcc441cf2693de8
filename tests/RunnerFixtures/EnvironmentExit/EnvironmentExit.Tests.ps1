# [Environment]::Exit(0) in the middle of a test: the process ends with code 0 and no results.
Describe 'a test that ends the process' {
    It 'passes first' { 1 | Should -Be 1 }
    It 'exits the process' { [Environment]::Exit(0) }
    It 'never runs' { 1 | Should -Be 1 }
}
