# Skip-UnlessPrerequisite: a missing prerequisite skips the test, except under CI=true where it
# fails the test naming the prerequisite. Expect 1 passed + 1 skipped, or under CI 1 passed + 1 failed.
BeforeAll {
    # The runner's serial scenario reaches this folder through a symlink: find the kit from the real folder.
    $here = [System.IO.Directory]::ResolveLinkTarget($PSScriptRoot, $true)?.FullName ?? $PSScriptRoot
    Import-Module (Join-Path $here '../../Pester/Support/MyHvTestKit.psm1') -Force
}
Describe 'prerequisites' {
    It 'runs when the prerequisite is there' {
        Skip-UnlessPrerequisite -Name 'always-there' -Condition $true
        1 | Should -Be 1
    }
    It 'does not run when it is missing' {
        Skip-UnlessPrerequisite -Name 'unobtainium-9000' -Condition { $false }
        throw 'this line must never run'
    }
}
