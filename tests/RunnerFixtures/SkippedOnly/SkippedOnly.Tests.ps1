# Every test skipped by Describe -Skip: nothing ran, so this is `empty`, not a pass.
Describe 'all skipped' -Skip {
    It 'one' { 1 | Should -Be 1 }
    It 'two' { 1 | Should -Be 1 }
}
