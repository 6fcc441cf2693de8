# The shape of ImportExcel's PasswordProtection.tests.ps1: a deliberate conditional return inside
# a Describe (the rest does not apply on this platform). It passes: 1 test, 1 passed.
Describe 'password protection' {
    BeforeAll { $script:value = 42 }
    if ($PSVersionTable.PSVersion.Major -gt 5) {
        It 'is not supported here, and says so' { $value | Should -Be 42 }
        return
    }
    It 'sets a password' { throw 'never runs on PowerShell 7' }
    It 'reads it back' { throw 'never runs on PowerShell 7' }
    It 'rejects a wrong one' { throw 'never runs on PowerShell 7' }
}
