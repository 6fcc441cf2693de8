# 3 passed, 1 skipped.
Describe 'three <_>' -ForEach @('p', 'q') {
    It 'passes for <_>' { $_ | Should -Not -BeNullOrEmpty }
}
Describe 'three more' {
    It 'passes' { 1 + 1 | Should -Be 2 }
    It 'is skipped' -Skip { throw 'never' }
}
