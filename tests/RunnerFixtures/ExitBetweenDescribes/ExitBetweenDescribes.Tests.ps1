# `exit` between two Describe blocks: the second block is silently never discovered.
Describe 'first' {
    It 'passes' { 1 | Should -Be 1 }
}

exit

Describe 'second' {
    It 'is dropped' { 1 | Should -Be 1 }
}
