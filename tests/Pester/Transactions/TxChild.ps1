<#
.SYNOPSIS
    Child-process side of Invoke-TxChild (TransactionSupport.psm1). Not a suite.

.DESCRIPTION
    Imports the BUILT module (out/MyHypervisor) and the test helpers, runs a scenario script (the
    text of a script block) and writes what it returned as JSON to -ResultPath. A scenario that
    ends the process (a 'kill' fail point) writes no result: that absence is what the caller checks.
    Its environment (MYHV_HOME, MYHV_FAILPOINTS, MYHV_ACCEL, TX_*) comes from the caller.
#>
param(
    [Parameter(Mandatory)] [string] $ScriptPath,
    [Parameter(Mandatory)] [string] $ResultPath
)

$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../TestHelpers.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'TransactionSupport.psm1') -Force
$null = Import-MyHvTestModule

$scenario = [scriptblock]::Create([System.IO.File]::ReadAllText($ScriptPath))
$result = & $scenario
$json = ConvertTo-Json -InputObject $result -Depth 8
[System.IO.File]::WriteAllText("$ResultPath.tmp", $json)
[System.IO.File]::Move("$ResultPath.tmp", $ResultPath, $true)
