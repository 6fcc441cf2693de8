# Exactly 256 failing tests: an exit code carrying the failure count would wrap to 0.
Describe 'many failures' {
    It 'fails <_>' -ForEach (1..256) { $_ | Should -Be 0 }
}
