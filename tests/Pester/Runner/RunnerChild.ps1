<#
.SYNOPSIS
    Runs ONE suite under Pester for Invoke-TestRun.ps1, then says goodbye.

.DESCRIPTION
    Started by the runner as a child pwsh (own session/process group, working directory at the
    repository root). It never decides the verdict; it only reports. Its last act, after
    Invoke-Pester has returned and the results file has been exported, is to write a goodbye
    record (JSON) carrying the runner's nonce, Pester's counts (including failed blocks and
    failed containers, which NUnit's counts hide) and the SHA-256 of the results file it saw.

    The goodbye is written to a temporary file and renamed into place, so the runner sees either
    a whole record or none. A process that dies earlier (exit, [Environment]::Exit, SIGKILL,
    timeout) leaves no goodbye, and the runner calls the suite crashed whatever its exit code.

    Not a suite: this file name must never end in .Tests.ps1.
#>
param(
    [Parameter(Mandatory)] [string] $SuitePath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [Parameter(Mandatory)] [string] $GoodbyePath,
    [Parameter(Mandatory)] [string] $Nonce,
    [Parameter(Mandatory)] [string] $PesterManifest
)

# Deliberately no Set-StrictMode and no $ErrorActionPreference here: the suite's code runs below
# this scope and must see pwsh's defaults, not the runner's preferences.

function Write-Goodbye {
    # Atomic: write + flush a temp file in the same directory, then rename(2) over the final name.
    param([Parameter(Mandatory)] $Record, [Parameter(Mandatory)] [string] $Path)
    $json = $Record | ConvertTo-Json -Depth 6
    $temp = "$Path.tmp-$PID"
    $stream = [System.IO.File]::Open($temp, [System.IO.FileMode]::CreateNew)
    try {
        $bytes = [System.Text.UTF8Encoding]::new($false).GetBytes($json)
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally { $stream.Dispose() }
    [System.IO.File]::Move($temp, $Path, $true)
}

function Get-RunCounts {
    # Pester's own counts, straight from the run object; $null when Pester returned nothing.
    param($Run)
    if ($null -eq $Run) { return $null }
    [ordered]@{
        result               = [string] $Run.Result
        total                = [int] $Run.TotalCount
        passed               = [int] $Run.PassedCount
        failed               = [int] $Run.FailedCount
        skipped              = [int] $Run.SkippedCount
        inconclusive         = [int] $Run.InconclusiveCount
        notRun               = [int] $Run.NotRunCount
        failedBlocks         = [int] $Run.FailedBlocksCount
        failedContainers     = [int] $Run.FailedContainersCount
        failedBlockNames     = @($Run.FailedBlocks | ForEach-Object { $_.ExpandedPath })
        failedContainerNames = @($Run.FailedContainers | ForEach-Object { "$($_.Item)" })
    }
}

if (-not (Test-Path -LiteralPath $PesterManifest -PathType Leaf)) {
    # No goodbye: the runner reports the suite as crashed with this message from stderr.
    [Console]::Error.WriteLine("Pester manifest not found at '$PesterManifest'; run ./build.ps1 -Task Bootstrap")
    exit 3
}
Import-Module -Name $PesterManifest -Force -ErrorAction Stop

$config = New-PesterConfiguration
$config.Run.Path = $SuitePath
$config.Run.Exit = $false              # the child, not Pester, decides how to exit (after the goodbye)
$config.Run.PassThru = $true
$config.Run.Throw = $false
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $ResultPath
$config.Output.Verbosity = 'Detailed'
$config.Output.RenderMode = 'Plaintext'  # the runner prefixes every line; colour codes would only get in the way

$run = $null
$pesterError = $null
try {
    $run = Invoke-Pester -Configuration $config
} catch {
    $pesterError = "$_"
}

$results = [ordered]@{ path = $ResultPath; sha256 = $null }
if (Test-Path -LiteralPath $ResultPath -PathType Leaf) {
    $results.sha256 = (Get-FileHash -LiteralPath $ResultPath -Algorithm SHA256).Hash
}
$counts = Get-RunCounts -Run $run

Write-Goodbye -Path $GoodbyePath -Record ([ordered]@{
    nonce   = $Nonce
    pid     = $PID
    error   = $pesterError
    run     = $counts
    results = $results
})

# The exit code is informative only; the runner cross-checks it against the goodbye.
$clean = $null -ne $counts -and $null -eq $pesterError -and
    $counts.failed -eq 0 -and $counts.failedBlocks -eq 0 -and $counts.failedContainers -eq 0
exit ($clean ? 0 : 1)
