# A throw in AfterAll after a passing test: NUnit's counts show no failure at all.
Describe 'teardown that throws' {
    AfterAll { throw 'AfterAll blew up on purpose' }
    It 'passes' { 1 | Should -Be 1 }
}
