# Part of MyHvTestKit.psm1: where a suite's files live, the built module, prerequisites, a suite's
# usual BeforeAll (its AfterAll, Complete-MyHvTestSuite, is in VmFixture.ps1), polling.

function Get-MyHvRepoRoot {
    <#
    .SYNOPSIS
        The repository root (three levels above this file, which lives in tests/Pester/Support).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $PSScriptRoot))
}

function Get-MyHvBuiltManifest {
    <# The path of the BUILT module's manifest (out/MyHypervisor/MyHypervisor.psd1). #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
}

function Import-MyHvTestModule {
    <#
    .SYNOPSIS
        Imports the BUILT module (out/MyHypervisor/MyHypervisor.psd1) into the global scope, -Force.
    .DESCRIPTION
        Suites test what the build produced, never src/. Fails with a hint when the build has not run.
        -Global matters: an import from inside this module would otherwise be visible only here.
    .OUTPUTS
        The PSModuleInfo of the imported module.
    #>
    [CmdletBinding()]
    param()
    $manifest = Get-MyHvBuiltManifest
    if (-not (Test-Path -LiteralPath $manifest -PathType Leaf)) {
        throw "The built module is missing at $manifest; run: dotnet pwsh ./build.ps1 -Task Build"
    }
    Import-Module -Name $manifest -Force -Global -PassThru -ErrorAction Stop
}

function New-MyHvTestDir {
    <#
    .SYNOPSIS
        Creates a fresh private (0700) directory named <Prefix>-XXXXXX and returns its full path.
    .DESCRIPTION
        Made by mktemp under $env:MYHV_TEST_ROOT (set by the runner, deleted by it afterwards) or,
        when that is unset, directly under /tmp (left for you to delete). Keep -Prefix short: unix
        socket paths below the directory must stay well below 108 bytes.
    .EXAMPLE
        $script:share = New-MyHvTestDir -Prefix 'mhS'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([ValidatePattern('^[A-Za-z0-9]{1,8}$')] [string] $Prefix = 'mhT')
    $base = if ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT -PathType Container)) { $env:MYHV_TEST_ROOT } else { '/tmp' }
    $mktemp = (Get-Command -Name mktemp -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $dir = & $mktemp -d -p $base "$Prefix-XXXXXX"
    if ($LASTEXITCODE -ne 0 -or -not $dir) { throw "mktemp could not create a test folder under $base" }
    $dir.Trim()
}

function New-MyHvTestHome {
    <#
    .SYNOPSIS
        Creates a fresh private (0700) directory, sets $env:MYHV_HOME to it and returns its path.
    .DESCRIPTION
        The directory is made by mktemp under $env:MYHV_TEST_ROOT (set by the runner, deleted by it
        afterwards) or, when that is unset, directly under /tmp (left for you to delete). Names are
        short on purpose: unix socket paths under the home must stay well below 108 bytes.
        Also records which mh* network devices exist now, for Assert-MyHvNoLeftovers.
    .OUTPUTS
        The full path of the new home.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $dir = New-MyHvTestDir -Prefix 'mhH'
    $script:TapBaseline[$dir] = Get-MyHvNetDeviceName
    $env:MYHV_HOME = $dir
    $dir
}

function Initialize-MyHvTestSuite {
    <#
    .SYNOPSIS
        A suite's usual BeforeAll in one call: imports the built module, makes a test home (MYHV_HOME),
        sets MYHV_ACCEL (tcg unless -Accelerator) and clears MYHV_FAILPOINTS. Returns the home's path.
    .PARAMETER NoHome
        Makes no home (and returns nothing): for a suite that lays out its homes itself.
    .EXAMPLE
        BeforeAll { $script:testHome = Initialize-MyHvTestSuite }
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([ValidateSet('tcg', 'kvm', 'auto')] [string] $Accelerator = 'tcg', [switch] $NoHome)
    $null = Import-MyHvTestModule
    $env:MYHV_ACCEL = $Accelerator
    Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    if (-not $NoHome) { New-MyHvTestHome }
}

function Skip-UnlessPrerequisite {
    <#
    .SYNOPSIS
        Inside an It: skips the test when a prerequisite is missing, but FAILS it under CI=true.
    .DESCRIPTION
        No skip may hide a missing install: on a developer machine without, say, qemu the test is
        reported skipped with the prerequisite's name; where $env:CI is 'true' the same condition
        fails the test (error id PrerequisiteMissing) naming the missing prerequisite.
        -NotInstallable is the one exception: a prerequisite no package of this platform provides
        (the Cloud Hypervisor binary) skips even under CI=true, with the reason
        'not installable on this platform: <name>'.
        Returns nothing when the prerequisite is there, so the test simply goes on.
    .PARAMETER Name
        The prerequisite, as a person would install it (e.g. 'qemu-system-x86_64', 'root', '/dev/kvm').
    .PARAMETER Condition
        $true (or a script block returning a true value) when the prerequisite is present.
    .PARAMETER NotInstallable
        No package here provides it: skip (never fail) when it is missing, CI or not.
    .EXAMPLE
        It 'boots' { Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }; ... }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [AllowNull()] [object] $Condition,
        [switch] $NotInstallable
    )
    $present = if ($Condition -is [scriptblock]) { & $Condition } else { $Condition }
    if ($present) { return }
    if ($NotInstallable) {
        Set-ItResult -Skipped -Because "not installable on this platform: $Name"
        return
    }
    if ($env:CI -eq 'true') {
        $exception = [System.InvalidOperationException]::new("Prerequisite missing: $Name (CI=true, so a missing prerequisite fails the test instead of skipping it)")
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new(
                $exception, 'PrerequisiteMissing', [System.Management.Automation.ErrorCategory]::NotInstalled, $Name))
    }
    Set-ItResult -Skipped -Because "prerequisite missing: $Name"
}

function Wait-MyHvCondition {
    <# Polls a condition every 100 ms; throws naming -Because when it is not met in time. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [int] $TimeoutSeconds = 60,
        [string] $Because = 'a condition'
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        if (& $Condition) { return }
        if ([DateTime]::UtcNow -ge $deadline) { throw "Timed out after $TimeoutSeconds s waiting for $Because" }
        Start-Sleep -Milliseconds 100
    }
}

function Test-MyHvEventually {
    <# Polls a condition every 100 ms for up to -TimeoutSeconds; $true as soon as it holds, else its last answer as a bool. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([Parameter(Mandatory, Position = 0)] [scriptblock] $Condition, [Parameter(Position = 1)] [Alias('Seconds')] [int] $TimeoutSeconds = 15)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds 100
    }
    [bool] (& $Condition)
}
