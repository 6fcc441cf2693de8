<#
.SYNOPSIS
    Runs ONE suite under Pester for Invoke-TestRun.ps1, then says goodbye.

.DESCRIPTION
    Started by the runner as a child pwsh (own session and process group, working directory at the
    repository root) BEFORE it knows its suite: it imports Pester into a fresh runspace and then
    waits for its job on stdin, so the runner can have the next children warm while a suite runs.

    The job is one JSON line on stdin (suite path, results and goodbye paths, and the goodbye key).
    The runner closes stdin right after writing it, so once this script has read it, stdin is at
    end of file: the key never appears on a command line, in the environment or in any variable
    the suite's code can reach, because the suite runs in another runspace (its own session state;
    no host is shared, so $Host.Runspace does not lead back here). Pester's host output arrives as
    information records and is printed from here.

    After Invoke-Pester returns, this script writes the results file itself (JSON: one record per
    test, messages with control characters escaped, so an ANSI colour code in a failure can never
    make the export fail or change a count), then the goodbye: a record with Pester's counts, the
    lines discovery reached and the results file's SHA-256, and an HMAC-SHA256 of that record
    under the key. The key itself is never written anywhere. Both files are written atomically.

    Not a suite: this file name must never end in .Tests.ps1.
#>
param(
    [Parameter(Mandatory)] [string] $PesterManifest
)

# Deliberately no Set-StrictMode and no $ErrorActionPreference for the suite: it runs in its own
# runspace with pwsh's defaults.

# The runtime has read the runner's JIT settings (tier-up off) for this process; what the suite
# starts must not inherit them (Runner/RunnerJitSettings.ps1).
. (Join-Path $PSScriptRoot 'RunnerJitSettings.ps1')
Remove-JitSettings

function Write-AtomicFile {
    # Write + flush a temp file in the same folder, then rename(2) over the final name.
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Text)
    $temp = "$Path.tmp-$PID"
    $stream = [System.IO.File]::Open($temp, [System.IO.FileMode]::CreateNew)
    try {
        $bytes = [System.Text.UTF8Encoding]::new($false).GetBytes($Text)
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally { $stream.Dispose() }
    [System.IO.File]::Move($temp, $Path, $true)
}

function ConvertTo-CleanText {
    # Control characters visible as escapes (\e for ESC): the results stay valid in any format.
    # (Compared as numbers: a string -eq ignores control characters under ICU, so BEL would equal ESC.)
    param([AllowNull()] [string] $Text)
    if ($null -eq $Text) { return $null }
    [regex]::Replace($Text, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\u2028\u2029]', { param($m) if ([int][char] $m.Value -eq 27) { '\e' } else { '\x{0:X2}' -f [int][char]$m.Value } })
}

function Get-ReachedLine {
    # Lines of every block and test Pester discovered (its StartLine is the calling command's line).
    param($Block)
    foreach ($b in @($Block.Blocks)) { $b.StartLine; Get-ReachedLine -Block $b }
    foreach ($t in @($Block.Tests)) { $t.StartLine }
}

function Write-HostRecord {
    # Prints information records (Write-Host) of the suite's runspace as they arrive.
    param($Records)
    foreach ($record in $Records) {
        $data = $record.MessageData
        if ($data -is [System.Management.Automation.HostInformationMessage]) {
            if ($data.NoNewLine) { [Console]::Out.Write("$($data.Message)") } else { [Console]::Out.WriteLine("$($data.Message)") }
        } else { [Console]::Out.WriteLine("$data") }
    }
}

# The job is read from the start, in the background, while Pester is imported.
$stdin = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), [System.Text.UTF8Encoding]::new($false))
$jobLine = $stdin.ReadLineAsync()

# 1. Warm up: Pester in a fresh runspace, before the job arrives.
$iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
$suiteRunspace = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace($iss)
$suiteRunspace.Open()
$ps = [PowerShell]::Create()
$ps.Runspace = $suiteRunspace
try { $null = $ps.AddCommand('Import-Module').AddParameter('Name', $PesterManifest).AddParameter('PassThru').AddParameter('ErrorAction', 'Stop').Invoke() }
catch { [Console]::Error.WriteLine("Pester could not be imported from '$PesterManifest': $($_.Exception.InnerException ?? $_.Exception)"); exit 3 }
$ps.Commands.Clear(); $ps.Streams.ClearStreams()
# No warm-up run of Pester here: measured, it moved Pester's first-run compiling off a suite's
# critical path only on a contended machine, and cost more CPU in all (bench/runner-results.md).
# The JSON cmdlets this script uses after the suite, loaded now (their module's first use costs
# a few hundred milliseconds) rather than between the job's arrival and the verdict.
$null = ConvertTo-Json -Compress -InputObject ([ordered]@{ warm = @(1) }) | ConvertFrom-Json

# 2. The job, from stdin (the runner closes it after this one line; nothing else will ever come).
$line = $jobLine.GetAwaiter().GetResult()
$jobLine = $null
if (-not $line) { exit 0 }   # the runner had no suite for this child after all
$job = $line | ConvertFrom-Json
$line = $null
$mac = [System.Security.Cryptography.HMACSHA256]::new([Convert]::FromHexString($job.key))
$job.key = $null
$suitePath = [string] $job.suite; $resultPath = [string] $job.results; $goodbyePath = [string] $job.goodbye
$job = $null
$stdin.Dispose()

# 3. The suite, in its runspace. The path goes to Pester escaped: it resolves wildcards.
$null = $ps.AddScript({
        param($Literal)
        # The file is dot-sourced exactly as Pester does it (by its provider path, so brackets and
        # wildcards are literal), inside a container that notices an `exit` during discovery: exit
        # ends only the dot-sourced file, but it sets $LASTEXITCODE, which starts at a sentinel.
        $container = New-PesterContainer -Data @{ p = "Microsoft.PowerShell.Core\FileSystem::$Literal" } -ScriptBlock {
            param($p)
            $global:LASTEXITCODE = -1073741510
            . $p
            $global:MyHvDiscoveryExitCode = $global:LASTEXITCODE
        }
        $config = New-PesterConfiguration
        $config.Run.Container = $container
        $config.Run.Exit = $false
        $config.Run.PassThru = $true
        $config.Run.Throw = $false
        $config.TestResult.Enabled = $false        # written below from the run object, sanitized
        $config.Output.Verbosity = 'Detailed'
        $config.Output.RenderMode = 'Plaintext'    # the runner prefixes every line
        Invoke-Pester -Configuration $config
    }).AddArgument($suitePath)
$run = $null; $pesterError = $null; $discoveryExit = $null
try {
    $async = $ps.BeginInvoke()
    while (-not $async.AsyncWaitHandle.WaitOne(50)) { Write-HostRecord -Records $ps.Streams.Information.ReadAll() }
    $output = $ps.EndInvoke($async)
    Write-HostRecord -Records $ps.Streams.Information.ReadAll()
    $run = @($output | Where-Object { $_.PSObject.TypeNames -contains 'Pester.Run' -or $null -ne $_.PSObject.Properties['Containers'] }) | Select-Object -Last 1
    $discoveryExit = $suiteRunspace.SessionStateProxy.GetVariable('MyHvDiscoveryExitCode')
} catch {
    Write-HostRecord -Records $ps.Streams.Information.ReadAll()
    $pesterError = "$($_.Exception.InnerException ?? $_.Exception)"
}
foreach ($e in $ps.Streams.Error.ReadAll()) { [Console]::Out.WriteLine("ERROR: $e") }
foreach ($w in $ps.Streams.Warning.ReadAll()) { [Console]::Out.WriteLine("WARNING: $w") }
[Console]::Out.WriteLine('')
[Console]::Out.Flush()

# 4. Results, from the run object.
$counts = $null; $tests = @()
if ($null -ne $run) {
    $tests = @(foreach ($t in @($run.Tests)) {
            [ordered]@{
                name     = ConvertTo-CleanText -Text ([string] $t.ExpandedName)
                path     = ConvertTo-CleanText -Text (@($t.Path) -join ' > ')
                block    = ConvertTo-CleanText -Text ([string] $t.Block.ExpandedPath)
                result   = [string] $t.Result
                seconds  = [Math]::Round($t.Duration.TotalSeconds, 3)
                message  = ConvertTo-CleanText -Text (@($t.ErrorRecord | ForEach-Object { "$($_.Exception.Message)" }) -join "`n")
            }
        })
    $counts = [ordered]@{
        result               = [string] $run.Result
        total                = [int] $run.TotalCount
        passed               = [int] $run.PassedCount
        failed               = [int] $run.FailedCount
        skipped              = [int] $run.SkippedCount
        inconclusive         = [int] $run.InconclusiveCount
        notRun               = [int] $run.NotRunCount
        failedBlocks         = [int] $run.FailedBlocksCount
        failedContainers     = [int] $run.FailedContainersCount
        failedBlockNames     = @($run.FailedBlocks | ForEach-Object { ConvertTo-CleanText -Text "$($_.ExpandedPath): $(@($_.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join '; ')" })
        failedContainerNames = @($run.FailedContainers | ForEach-Object { ConvertTo-CleanText -Text "$([System.IO.Path]::GetFileName($suitePath)): $(@($_.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join '; ')" })
        discoveryExitCode    = $(if ($null -ne $discoveryExit -and $discoveryExit -ne -1073741510) { [int] $discoveryExit } else { $null })
        reachedLines         = [int[]] @(@(foreach ($c in @($run.Containers)) { Get-ReachedLine -Block $c }) | Sort-Object -Unique)
    }
}
$sha = $null
try {
    Write-AtomicFile -Path $resultPath -Text (ConvertTo-Json -InputObject ([ordered]@{ tests = $tests }) -Depth 5 -Compress)
    $sha = [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.IO.File]::ReadAllBytes($resultPath)))
} catch { [Console]::Error.WriteLine("the results file could not be written: $($_.Exception.Message)") }

# 5. Goodbye: the record, and its HMAC under the key only the runner and this scope know.
$record = ConvertTo-Json -Depth 6 -Compress -InputObject ([ordered]@{ pid = $PID; error = (ConvertTo-CleanText -Text $pesterError); run = $counts; results = $sha })
$sig = [Convert]::ToHexString($mac.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($record)))
$mac.Dispose()
Write-AtomicFile -Path $goodbyePath -Text (ConvertTo-Json -Compress -InputObject ([ordered]@{ record = $record; mac = $sig }))

# The exit code is informative only; the runner cross-checks it against the goodbye.
$clean = $null -ne $counts -and $null -eq $pesterError -and
    $counts.failed -eq 0 -and $counts.failedBlocks -eq 0 -and $counts.failedContainers -eq 0
[Console]::Out.Flush()
[Environment]::Exit($(if ($clean) { 0 } else { 1 }))
