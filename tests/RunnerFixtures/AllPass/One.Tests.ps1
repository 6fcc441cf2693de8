# 3 passed, 1 skipped.
Describe 'one' {
    It 'passes a' { 1 | Should -Be 1 }
    It 'passes <_>' -ForEach @('b', 'c') { $_ | Should -BeOfType [string] }
    It 'is skipped by -Skip' -Skip { throw 'never' }
}
