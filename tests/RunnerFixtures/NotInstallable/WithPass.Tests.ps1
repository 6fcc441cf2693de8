# Skips for prerequisites no package on this platform provides, with the reason text that
# Skip-UnlessPrerequisite -NotInstallable writes (even under CI=true), next to a real pass.
Describe 'a hypervisor this platform cannot install' {
    It 'runs what it can' { 1 + 1 | Should -Be 2 }
    It 'boots under cloud-hypervisor' { Set-ItResult -Skipped -Because 'not installable on this platform: cloud-hypervisor' }
    It 'boots under firecracker' { Set-ItResult -Skipped -Because 'not installable on this platform: firecracker' }
}
