# A throw in BeforeAll: the block fails and its two tests are reported failed.
Describe 'setup that throws' {
    BeforeAll { throw 'BeforeAll blew up on purpose' }
    It 'one' { 1 | Should -Be 1 }
    It 'two' { 2 | Should -Be 2 }
}
