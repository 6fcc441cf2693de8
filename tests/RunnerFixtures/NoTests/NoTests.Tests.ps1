# A suite without a single test.
Describe 'nothing to see' {
    BeforeAll { $script:value = 1 }
}
