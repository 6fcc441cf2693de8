# 2 passed, 1 skipped.
Describe 'two' {
    Context 'nested' {
        It 'passes' { 'x' | Should -Be 'x' }
        It 'skips itself' { Set-ItResult -Skipped -Because 'the fixture says so'; throw 'never' }
    }
    It 'passes too' { $true | Should -BeTrue }
}
