# Not a suite (the name does not end in .Tests.ps1): the runner must not pick it up.
Describe 'not a suite' { It 'is never run' { 1 | Should -Be 1 } }
