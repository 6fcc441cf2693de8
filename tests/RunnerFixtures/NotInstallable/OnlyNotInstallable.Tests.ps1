# Nothing but a not-installable skip: no test passed, so the suite is `empty` (a failure) all the same.
Describe 'only cloud-hypervisor' {
    It 'boots under cloud-hypervisor' { Set-ItResult -Skipped -Because 'not installable on this platform: cloud-hypervisor' }
}
