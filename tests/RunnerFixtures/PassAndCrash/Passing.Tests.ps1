# Two passing tests; its counts must still be reported next to the crashing suite.
Describe 'fine' {
    It 'one' { 1 | Should -Be 1 }
    It 'two' { 2 | Should -Be 2 }
}
