# Does not parse (unclosed parenthesis): the container fails, no test runs.
Describe 'broken' {
    It 'one' { $x = ( 1 + }
    It 'two' { 2 | Should -Be 2 }
}
