# The suite process sends itself SIGKILL (Process.Kill is SIGKILL on Linux).
Describe 'a test that kills its own process' {
    It 'passes first' { 1 | Should -Be 1 }
    It 'kills the process' { [System.Diagnostics.Process]::GetCurrentProcess().Kill() }
    It 'never runs' { 1 | Should -Be 1 }
}
