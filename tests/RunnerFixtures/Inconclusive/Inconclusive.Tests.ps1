# Tests that end Set-ItResult -Inconclusive / -Skipped: none passed, so this is `empty`.
Describe 'nothing conclusive' {
    It 'is inconclusive' { Set-ItResult -Inconclusive -Because 'the fixture says so' }
    It 'skips itself' { Set-ItResult -Skipped -Because 'the fixture says so' }
}
