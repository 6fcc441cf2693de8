<#
The test kit every MyHypervisor suite imports (tests/Pester/README.md says how to write a suite):

    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
        $script:testHome = Initialize-MyHvTestSuite
    }
    AfterAll { Complete-MyHvTestSuite -HomePath $script:testHome }

One module, so every piece sees the others and the per-home network baseline; its parts are the
files beside it, each named for what it holds. The runner (Invoke-TestRun.ps1) keeps its own
minimal copy of what it needs and never imports this kit: it must not depend on what it checks.
#>

Set-StrictMode -Version 3.0

# mh* network devices that existed when each test home was made (home path -> names).
$script:TapBaseline = @{}
# Network namespaces this kit made (Remove-MyHvTestNamespace deletes no other).
$script:Namespaces = [System.Collections.Generic.HashSet[string]]::new()

foreach ($part in 'TestHome', 'ChildPwsh', 'Census', 'Namespaces', 'VmFixture', 'GuestAccess', 'Capture', 'Images', 'DocPages') {
    . (Join-Path $PSScriptRoot "$part.ps1")
}

Export-ModuleMember -Function *-MyHv*, Skip-UnlessPrerequisite
