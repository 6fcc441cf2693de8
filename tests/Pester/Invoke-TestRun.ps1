<#
.SYNOPSIS
    Runs the Pester suites, each in its own child pwsh, several at once, and reports a verdict that cannot be a false green.

.DESCRIPTION
    dotnet pwsh tests/Pester/Invoke-TestRun.ps1 [-Path <dir>] [-OutputDir <dir>] [-SuiteTimeoutSeconds <n>] [-Parallel <n>]

    Pester alone reports "Passed" when a test calls [Environment]::Exit(0), when an `exit` in a
    file drops later blocks, when every test was skipped, and (by exit code) when 256 tests fail.
    So, as mature runners do:

    1. Discovery, as Pester finds suites: every *.Tests.ps1 (any letter case) under -Path,
       hidden files and folders included, `.git` never entered, symlinked folders followed once
       (a loop is reported and not followed), each real file once. Paths are used literally
       (brackets, `*`, `?`, spaces and non-ASCII letters run exactly that file).

    2. The plan, from each file's syntax tree, before anything runs:
       - the lower bound of tests: the It calls that run on every path. An It counts when it
         sits in the file, a Describe/Context body, a foreach loop or ForEach-Object body, or in
         a function the file defines that such a block calls. It does not count inside if,
         switch, catch, trap, a free script block or a function nobody calls, nor after a
         statement that may `return`, `exit` or `break` (a deliberate
         `if (...) { It ...; return }` in a Describe makes the rest of that Describe optional:
         not a crash). A loop or -ForEach counts once (its data is assumed not empty).
       - truncation: an unconditional `exit`, `return` or `break` at file or block level with
         code after it means discovery cannot reach the end of the file: the suite is crashed.
       - the lines of the Describe/Context/It calls on every path: after the run, every one must
         be among the blocks and tests Pester discovered, or discovery stopped early (crashed).
       - `# Runner: host-exclusive` as a whole-line comment (column 1) declares that the suite
         uses host-global resources (network namespaces, bridges, TAP devices, the KVM probe,
         timing): it runs alone, with no other suite at the same time.

    3. One child pwsh per suite (Runner/RunnerChild.ps1) under setsid: its own session and
       process group, working directory at the repository root, a fresh per-suite output folder,
       a fresh short MYHV_TEST_ROOT (the suite's TMPDIR is inside it, so whatever its processes
       leave in the temp folder goes with it), and its own environment marker (MYHV_RUNNER_SUITE)
       that every process it starts inherits, however detached. The runner is the child subreaper of
       everything it starts, so orphans come back to it: an adopted orphan whose environment was
       emptied (env -i) carries no marker and is blamed on the suite that ends next (with
       -Parallel > 1 that may be a neighbour; the run fails either way). No cgroup is used (this
       host's cgroup v1 hierarchy is not delegated); marker, subreaper, session and process
       group cover every way of detaching short of a process that both empties its environment
       and outlives the runner's census. Two children are started ahead (Pester
       imported) and get their job over
       stdin, which is then closed. Under `dotnet pwsh`
       they start from the ReadyToRun copy of pwsh that Bootstrap makes (Runner/RunnerPwshCache.ps1:
       the tool's assemblies are IL only, so each start would JIT-compile PowerShell anew), or
       from $PSHOME when there is none (or MYHV_RUNNER_PLAIN_PWSH=1).

       The runner itself first restarts in place (execve: same pid) under the ReadyToRun copy,
       and it and its children run with .NET's tier-up off (DOTNET_TC_CallCounting=0: in these
       short-lived processes the background recompiling of hot methods took most of the CPU);
       each child removes that setting before its suite runs, and a value set by the user is
       left alone (Runner/RunnerJitSettings.ps1). Called from a session (& ./Invoke-TestRun.ps1)
       it does not restart.
       Start order with -Parallel above 1 (Runner/RunnerOrder.ps1): host-exclusive suites first,
       then suites the last run in this -OutputDir did not time, then the longest first by its
       times (summary.json's `seconds`). Reports are always in plan order.

    4. The goodbye: a random key goes to the child over stdin only (never on a command line or
       in the environment); the suite runs in a runspace of its own that cannot see the child's
       variables. After Invoke-Pester returns, the child writes the results (JSON, messages
       sanitized) and a goodbye record signed (HMAC-SHA256) with the key, carrying Pester's
       counts, the lines discovery reached and the results file's hash. Only regular files owned
       by the runner's user are read, within a deadline.

    5. After each suite, every process carrying its marker (or in its group/session, naming its
       temp root, or descending from those) is ended, TERM then KILL, verified; if any was alive
       the suite is `leaked`. Timeouts end the suite the same way. Mounts, virtiofsd lock files
       and new network devices/namespaces are checked too (Runner/RunnerCensus.ps1).

    Verdicts: passed, failed, crashed, timedout, noresults, empty (no test passed: all skipped,
    inconclusive or not run), leaked. Only `passed` passes. A suite that did not pass for a
    reason of its own adds 1 to the failed count (see Runner/RunnerVerdict.ps1).

    Output: the plan; a suite's own lines only ever behind "[<suite>] " (live when -Parallel 1,
    else one block when the suite ends); a verdict line per suite; the summary in plan order;
    <OutputDir>/summary.json, junit.xml and summary.md (appended to $GITHUB_STEP_SUMMARY when
    set); the prerequisites that skipped tests name as "not installable on this platform: <name>"
    (Skip-UnlessPrerequisite -NotInstallable, allowed under CI=true), listed by suite in the summary,
    summary.md and summary.json (`notInstallable`; a suite of nothing but such skips is `empty`); "ALL TESTS PASSED" only when exiting 0; and last, "Pester: <P> passed, <F> failed,
    <S> skipped". Suite names are printed with control characters escaped (\n, \e, ...). The
    exit code is 0 (everything passed) or 1, never a count.

    SIGINT/SIGTERM: every live suite is ended, temp roots removed, the reports written with the
    interrupted suites `crashed` ("runner interrupted"), the final line printed, exit 1.
    A runner started with SIGINT ignored (nohup, or in the background of a non-interactive
    shell) keeps ignoring it, as .NET does for an inherited ignore; SIGTERM still works. Under
    `dotnet pwsh` (the local tool) signal the pwsh process itself: the dotnet muxer in front of
    it does not pass signals on.
    Two runs with the same -OutputDir at once: the second refuses (exit 1) and touches nothing.

.PARAMETER Path
    A directory searched recursively for suites (or one suite file). Default: this folder.

.PARAMETER OutputDir
    Where the reports and the per-suite folders (suites/NNN-name/) go. Default: out/test-results.

.PARAMETER SuiteTimeoutSeconds
    Wall-clock limit for each suite. Default: 900.

.PARAMETER Parallel
    How many suites run at once (default: the number of processors; 1 is serial). Verdicts and
    counts do not depend on it; host-exclusive suites always run alone.

.EXAMPLE
    dotnet pwsh tests/Pester/Invoke-TestRun.ps1 -Path tests/Pester/Lifecycle -OutputDir /tmp/results -Parallel 2
#>
[CmdletBinding()]
param(
    [string] $Path,
    [string] $OutputDir,
    [int] $SuiteTimeoutSeconds = 900,
    [int] $Parallel = [Environment]::ProcessorCount
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$PSNativeCommandUseErrorActionPreference = $false   # native exit codes are checked where they matter

# The run itself happens in a runspace of its own. pwsh answers Ctrl+C (SIGINT) by stopping the
# pipeline it is running, and in a stopping pipeline cmdlets throw where the cleanup needs them
# (ending suites, removing roots, writing reports). A pipeline stop cannot interrupt the .NET call
# that waits for this runspace, so the signal reaches the run only as the flag its scheduler reads
# (Runner/RunnerProcess.ps1), and the run ends it in order. The process then exits with the run's
# code, whatever state the caller's pipeline is in.
if (-not (Get-Variable -Name MyHvRunnerInside -Scope Global -ErrorAction Ignore)) {
    # First the runner starts again as itself (same pid) with tier-up off and, under `dotnet pwsh`,
    # from the ReadyToRun copy of pwsh: a short-lived process, most of whose CPU went into
    # recompiling its hot methods (Runner/RunnerJitSettings.ps1). Not when called from a session.
    . (Join-Path $PSScriptRoot 'Runner/RunnerProcess.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerPwshCache.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerJitSettings.ps1')
    Initialize-RunnerNative
    $restartProblem = Invoke-RunnerRestart -ScriptPath $PSCommandPath
    if ($restartProblem) { [Console]::Out.WriteLine("note: the runner $restartProblem") }
    $runspace = [runspacefactory]::CreateRunspace()
    $runspace.Open()
    $runspace.SessionStateProxy.SetVariable('MyHvRunnerInside', $true)
    $null = $runspace.SessionStateProxy.Path.SetLocation([System.Management.Automation.WildcardPattern]::Escape((Get-Location -PSProvider FileSystem).ProviderPath))
    $inner = [powershell]::Create()
    $inner.Runspace = $runspace
    $null = $inner.AddCommand($PSCommandPath).AddParameters($PSBoundParameters)
    $innerCode = 1
    try { $innerCode = @($inner.Invoke() | Where-Object { $_ -is [int] })[-1] }
    catch { [Console]::Out.WriteLine("The runner itself failed: $($_.Exception.Message -replace '[\x00-\x1f\x7f]', ' ')"); [Console]::Out.WriteLine('Pester: 0 passed, 1 failed, 0 skipped') }
    [Console]::Out.Flush()
    if ($null -eq $innerCode) { $innerCode = 1 }
    [Environment]::Exit($innerCode)
}

$script:RepoRoot = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
$script:ChildScript = Join-Path $PSScriptRoot 'Runner/RunnerChild.ps1'
$script:NativeLoaded = $false
$script:PipeDrainSeconds = 3    # after a child exits, how long its pipes may stay open (a leaked holder)
$script:PollMilliseconds = 150  # the longest the scheduler sleeps between looks at signals and timeouts
$script:WarmChildren = 2        # children started ahead of their suite (see Invoke-Schedule)
# The Pester version and its lookup in the NuGet cache have one home, shared with build.ps1.
. (Join-Path $script:RepoRoot 'build/BuildCommon.ps1')

function Write-RunnerLine {
    <# The runner's own lines, straight to stdout. They never start with '[' (that is how suite lines start). #>
    param([string] $Text = '')
    [Console]::Out.WriteLine($Text)
}

function Write-Reason {
    <# A reason under a verdict line: each of its lines escaped and indented (a suite's text can never start a line). #>
    param([string] $Reason)
    if (-not $Reason) { return }
    $lines = $Reason -split "`n"
    Write-RunnerLine "    reason: $(ConvertTo-VisibleText -Text $lines[0])"
    foreach ($l in $lines | Select-Object -Skip 1) { Write-RunnerLine "      $(ConvertTo-VisibleText -Text $l)" }
}

function Resolve-FullPath {
    param([Parameter(Mandatory)] [string] $Value)
    [System.IO.Path]::GetFullPath($Value, (Get-Location -PSProvider FileSystem).ProviderPath)
}

function Lock-OutputDir {
    <# An exclusive lock (flock) on <OutputDir>/.runner.lock for the whole run; $null when another run holds it. #>
    param([Parameter(Mandatory)] [string] $Dir)
    $null = [System.IO.Directory]::CreateDirectory($Dir)
    try { [System.IO.FileStream]::new((Join-Path $Dir '.runner.lock'), [System.IO.FileMode]::OpenOrCreate, [System.IO.FileAccess]::ReadWrite, [System.IO.FileShare]::None) }
    catch [System.IO.IOException] { $null }
}

function Initialize-OutputDir {
    <# Removes what an earlier run left that could be mistaken for this run's results. Only the runner's own names are touched. #>
    param([Parameter(Mandatory)] [string] $Dir)
    foreach ($name in 'summary.json', 'junit.xml', 'summary.md') { Remove-Item -LiteralPath (Join-Path $Dir $name) -Force -ErrorAction SilentlyContinue }
    $suites = Join-Path $Dir 'suites'
    if (Test-Path -LiteralPath $suites) { Remove-Item -LiteralPath $suites -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $suites -Force
}

function New-WarmChild {
    <#
    A child pwsh started ahead of its suite: own temp root, own marker token, Pester importing.
    The child inherits our environment plus MYHV_TEST_ROOT, MYHV_HOME inside it (a suite that
    forgets New-MyHvTestHome never touches real state), TMPDIR inside it (what the suite's
    processes leave in the temp folder, such as the diagnostic socket and debug pipes of a .NET
    process killed mid-test or a TestDrive Pester could not delete, goes with the root) and the
    marker; fail points are never inherited from the shell.
    #>
    param([Parameter(Mandatory)] $State)
    $State.Seq++
    $token = "$($State.RunId).$($State.Seq)"
    $root = New-SuiteTempRoot
    $null = New-Item -ItemType Directory -Path (Join-Path $root 'home'), (Join-Path $root 'tmp')
    $marker = (@($env:MYHV_RUNNER_SUITE, $token) | Where-Object { $_ }) -join ' '
    $environment = @{ MYHV_TEST_ROOT = $root; MYHV_HOME = (Join-Path $root 'home'); TMPDIR = (Join-Path $root 'tmp'); MYHV_FAILPOINTS = $null; MYHV_RUNNER_SUITE = $marker
        POWERSHELL_TELEMETRY_OPTOUT = '1'; POWERSHELL_UPDATECHECK = 'Off' }
    $environment += Get-JitSettingsEnvironment   # the child takes them off before its suite (Runner/RunnerJitSettings.ps1)
    try {
        $process = Start-SuiteChild -ChildArguments @('-File', $script:ChildScript, '-PesterManifest', $State.PesterManifest) -WorkingDirectory $script:RepoRoot -Environment $environment
    } catch { $null = Remove-SuiteTempRoot -RootPath $root; throw }
    [pscustomobject]@{ Process = $process; Token = $token; Root = $root }
}

function Start-PlannedSuite {
    <# Gives a warm child its suite. Returns the running job. #>
    param([Parameter(Mandatory)] $State, [Parameter(Mandatory)] [int] $Index)
    $plan = $State.Plans[$Index]
    $name = $State.Names[$Index]
    $warm = if ($State.Warm.Count) { $State.Warm[0]; $State.Warm.RemoveAt(0) } else { New-WarmChild -State $State }
    $suiteDir = Join-Path $State.OutputRoot ('suites/{0:d3}-{1}' -f ($Index + 1), (($name -replace '[^A-Za-z0-9._-]', '_') | ForEach-Object { $_.Substring(0, [Math]::Min(80, $_.Length)) }))
    $null = New-Item -ItemType Directory -Path $suiteDir -Force
    $key = [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(32)
    $job = [pscustomobject]@{
        Index = $Index; Plan = $plan; Name = $name; Prefix = "[$name] "; Process = $warm.Process; Token = $warm.Token; Root = $warm.Root
        Key = $key; SuiteDir = $suiteDir; ResultPath = (Join-Path $suiteDir 'results.json'); GoodbyePath = (Join-Path $suiteDir 'goodbye.json')
        Pumps = $null; Lines = [System.Collections.Generic.List[string]]::new(); Clock = [System.Diagnostics.Stopwatch]::StartNew(); Started = [DateTime]::UtcNow
        TimedOut = $false; Survivors = @(); ExitedAt = $null; Alone = ($State.Running.Count -eq 0); Baseline = (Get-HostNetSnapshot)
        ExitTask = $warm.Process.WaitForExitAsync()   # the scheduler wakes on it (Wait-ScheduleEvent)
    }
    foreach ($other in $State.Running) { $other.Alone = $false }
    $job.Pumps = @(
        New-StreamPump -Reader $job.Process.StandardOutput -LogPath (Join-Path $suiteDir 'stdout.log')
        New-StreamPump -Reader $job.Process.StandardError -LogPath (Join-Path $suiteDir 'stderr.log'))
    Send-SuiteJob -Process $job.Process -Job @{ suite = $plan.Path; results = $job.ResultPath; goodbye = $job.GoodbyePath; key = [Convert]::ToHexString($key) }
    $State.Running.Add($job)
    $headline = "=== $name (at least $($plan.MinTests) test(s)$(if ($plan.Exclusive) { ', host-exclusive' }), timeout ${SuiteTimeoutSeconds}s)"
    if ($State.Live) { Write-RunnerLine $headline } else { $job.Lines.Add($headline); Write-RunnerLine "--> started $name" }
    $job
}

function Get-OtherPid {
    <# Pids a census of $Job must never touch: the other running suites' leaders and the warm children. #>
    param([Parameter(Mandatory)] $State, $Job)
    @($State.Running | Where-Object { $_ -ne $Job } | ForEach-Object { $_.Process.Id }) + @($State.Warm | ForEach-Object { $_.Process.Id })
}

function Format-OutputTail {
    <# The last lines the child wrote on stderr, then on stdout, each with the suite's prefix, for a crash reason. #>
    param([Parameter(Mandatory)] $Job)
    $tail = @()
    if ($Job.Pumps[1].Tail.Count) { $tail += @('stderr tail:') + @($Job.Pumps[1].Tail | Select-Object -Last 10) }
    if ($Job.Pumps[0].Tail.Count) { $tail += @('stdout tail:') + @($Job.Pumps[0].Tail | Select-Object -Last 10) }
    if (-not $tail) { $tail = @('(the child wrote nothing)') }
    "`n" + (@($tail | ForEach-Object { "$($Job.Prefix)$_" }) -join "`n")
}

function Complete-PlannedSuite {
    <# A suite whose child has ended (or timed out): census, verdict, its block of output. Always yields a verdict. #>
    param([Parameter(Mandatory)] $State, [Parameter(Mandatory)] $Job, [string] $Interrupted)
    $problems = @()
    try {
        $sink = $null; if (-not $State.Live) { $sink = $Job.Lines }
        if ($Interrupted) {
            foreach ($pump in $Job.Pumps) { $null = Invoke-StreamPump -Pump $pump -Prefix $Job.Prefix -Sink $sink }
            $null = Stop-SuiteProcess -Token $Job.Token -LeaderPid $Job.Process.Id -RootPath $Job.Root -Exclude (Get-OtherPid -State $State -Job $Job)
            $verdict = New-Verdict -Status crashed -Reason "runner interrupted ($Interrupted) while it ran; its processes were ended"
        } else {
            foreach ($pump in $Job.Pumps) { $null = Invoke-StreamPump -Pump $pump -Prefix $Job.Prefix -Sink $sink }
            $census = Invoke-LeakCensus -Token $Job.Token -LeaderPid $Job.Process.Id -RootPath $Job.Root -Baseline $(if ($Job.Alone) { $Job.Baseline } else { $null }) `
                -Exclude (Get-OtherPid -State $State -Job $Job) -AdoptUnmarked -RunId $State.RunId
            $problems = @($census.Problems)
            foreach ($note in $census.Notes) { $Job.Lines.Add("    note: $note") }
            $wait = [pscustomobject]@{ ExitCode = $(if ($Job.Process.HasExited) { $Job.Process.ExitCode } else { $null }); TimedOut = $Job.TimedOut; Survivors = $Job.Survivors }
            $verdict = Get-SuiteVerdict -Plan $Job.Plan -Wait $wait -GoodbyePath $Job.GoodbyePath -ResultPath $Job.ResultPath -Key $Job.Key -LeakedProcesses $census.Processes -Leaks $census.Leaks
            if ($verdict.Status -notin 'passed', 'failed', 'leaked') { $verdict.Reason += (Format-OutputTail -Job $Job) }
        }
    } catch {
        # The runner's own failure around this suite still yields a (non-passing) verdict.
        $verdict = New-Verdict -Status crashed -Reason "the runner could not complete it: $_"
    } finally {
        foreach ($pump in $Job.Pumps) { try { $pump.Log.Dispose() } catch { } }
        if (-not $Job.Process.HasExited) { $null = Stop-SuiteProcess -Token $Job.Token -LeaderPid $Job.Process.Id -RootPath $Job.Root -Exclude (Get-OtherPid -State $State -Job $Job) }
        $problem = Remove-SuiteTempRoot -RootPath $Job.Root; if ($problem) { $problems += $problem }
        $Job.Process.Dispose()
    }
    if ($problems) {
        if ($verdict.Status -in 'passed', 'empty') { $verdict.Status = 'failed' }
        $verdict.Reason = (@($verdict.Reason) + "the runner could not clean up: $($problems -join '; ')" | Where-Object { $_ }) -join '; '
    }
    $null = Complete-VerdictCount -Verdict $verdict
    $verdict | Add-Member -NotePropertyName Path -NotePropertyValue $Job.Plan.Path
    $verdict | Add-Member -NotePropertyName Name -NotePropertyValue $Job.Name
    $verdict | Add-Member -NotePropertyName Seconds -NotePropertyValue $Job.Clock.Elapsed.TotalSeconds
    $verdict | Add-Member -NotePropertyName Started -NotePropertyValue $Job.Started
    $null = $State.Running.Remove($Job)
    $State.Verdicts[$Job.Index] = $verdict
    foreach ($line in $Job.Lines) { Write-RunnerLine $line }
    Write-VerdictLine -Verdict $verdict
}

function Write-VerdictLine {
    param([Parameter(Mandatory)] $Verdict)
    Write-RunnerLine ('--- {0,-9} {1}: {2} passed, {3} failed, {4} skipped in {5:0.0}s' -f
        $Verdict.Status.ToUpperInvariant(), $Verdict.Name, $Verdict.Passed, $Verdict.Failed, $Verdict.Skipped, $Verdict.Seconds)
    Write-Reason -Reason $Verdict.Reason
}

function Update-RunningSuite {
    <# Pumps every running suite's output, notices exits and timeouts. True if anything happened. #>
    param([Parameter(Mandatory)] $State)
    $busy = $false
    foreach ($job in @($State.Running)) {
        $sink = $null; if (-not $State.Live) { $sink = $job.Lines }
        foreach ($pump in $job.Pumps) { if (Invoke-StreamPump -Pump $pump -Prefix $job.Prefix -Sink $sink) { $busy = $true } }
        if ($job.Process.HasExited) {
            if ($null -eq $job.ExitedAt) { $job.ExitedAt = $job.Clock.Elapsed.TotalSeconds }
            # A leftover process may hold the pipes open; the census deals with it.
            if (-not ($job.Pumps | Where-Object { -not $_.Eof }) -or $job.Clock.Elapsed.TotalSeconds - $job.ExitedAt -gt $script:PipeDrainSeconds) {
                Complete-PlannedSuite -State $State -Job $job; $busy = $true
            }
        } elseif (-not $job.TimedOut -and $job.Clock.Elapsed.TotalSeconds -ge $SuiteTimeoutSeconds) {
            $job.TimedOut = $true
            Write-RunnerLine "!!! $($job.Name) ran past ${SuiteTimeoutSeconds}s: ending its processes (TERM, then KILL)"
            $job.Survivors = @((Stop-SuiteProcess -Token $job.Token -LeaderPid $job.Process.Id -RootPath $job.Root -Exclude (Get-OtherPid -State $State -Job $job)).Survivors)
            if ($job.Survivors) { Complete-PlannedSuite -State $State -Job $job }   # something not even SIGKILL ends (D state): do not wait forever
            $busy = $true
        }
    }
    $busy
}

function Test-CanStart {
    <# The next suite in start order (Runner/RunnerOrder.ps1) may start: a free slot, and host-exclusive suites only alone. #>
    param([Parameter(Mandatory)] $State)
    if ($State.Next -ge $State.Plans.Count) { return $false }
    if ($State.Running.Count -eq 0) { return $true }
    if ($State.Plans[$State.Order[$State.Next]].Exclusive -or ($State.Running | Where-Object { $_.Plan.Exclusive })) { return $false }
    $State.Running.Count -lt $State.Parallel
}

function Stop-Run {
    <# SIGINT/SIGTERM (or a runner failure): ends every live suite and warm child; unstarted suites get a verdict too. #>
    param([Parameter(Mandatory)] $State, [Parameter(Mandatory)] [string] $Why)
    Write-RunnerLine "!!! runner interrupted ($Why): ending $($State.Running.Count) running suite(s)"
    foreach ($job in @($State.Running)) { Complete-PlannedSuite -State $State -Job $job -Interrupted $Why }
    foreach ($warm in @($State.Warm)) {
        try { $warm.Process.StandardInput.Close() } catch { }
        $null = Stop-SuiteProcess -Token $warm.Token -LeaderPid $warm.Process.Id -RootPath $warm.Root
        $null = Remove-SuiteTempRoot -RootPath $warm.Root
    }
    $State.Warm.Clear()
    for ($i = 0; $i -lt $State.Plans.Count; $i++) {
        if ($null -ne $State.Verdicts[$i]) { continue }
        $v = Complete-VerdictCount -Verdict (New-Verdict -Status crashed -Reason "runner interrupted ($Why) before it started")
        foreach ($p in @{ Path = $State.Plans[$i].Path; Name = $State.Names[$i]; Seconds = 0.0; Started = [DateTime]::UtcNow }.GetEnumerator()) { $v | Add-Member -NotePropertyName $p.Key -NotePropertyValue $p.Value }
        $State.Verdicts[$i] = $v
    }
}

function Get-SignalName {
    if (-not $script:NativeLoaded) { if (-not ('MyHvRunnerNative' -as [type])) { return $null }; $script:NativeLoaded = $true }
    switch ([MyHvRunnerNative]::Signal) { 0 { $null } 2 { 'SIGINT' } 15 { 'SIGTERM' } 1 { 'SIGHUP' } default { "signal $_" } }
}

function Invoke-Schedule {
    <# Runs every planned suite, up to -Parallel at once, warm children ahead. Returns $null, or the signal that interrupted it. #>
    param([Parameter(Mandatory)] $State)
    while ($State.Next -lt $State.Plans.Count -or $State.Running.Count) {
        $signal = Get-SignalName
        if ($signal) { return $signal }
        # If pwsh itself ends the script (its own Ctrl+C handling can, before the finally below
        # runs), its exit code comes from $LASTEXITCODE: keep that a failure while suites run.
        $global:LASTEXITCODE = 1
        $busy = $false
        while (Test-CanStart -State $State) { $null = Start-PlannedSuite -State $State -Index $State.Order[$State.Next]; $State.Next++; $busy = $true }
        # Children warm for the next suites (Pester imported), so their start overlaps this work.
        # Two: one child's start takes longer than a small suite runs,
        # so with one the next suite would wait for it; never more than suites are left.
        while ($State.Warm.Count -lt [Math]::Min($script:WarmChildren, $State.Plans.Count - $State.Next)) { $State.Warm.Add((New-WarmChild -State $State)); $busy = $true }
        if (Update-RunningSuite -State $State) { $busy = $true }
        if (-not $busy) { Wait-ScheduleEvent -State $State }
    }
    $null
}

function Wait-ScheduleEvent {
    <#
    Sleeps until a running suite writes a line or its child exits, or $script:PollMilliseconds pass
    (signals and timeouts are looked at that often). A fixed sleep instead would add up to its
    length to every suite's end, and wake the runner for nothing in between.
    #>
    param([Parameter(Mandatory)] $State)
    $tasks = [System.Collections.Generic.List[System.Threading.Tasks.Task]]::new()
    foreach ($job in $State.Running) {
        foreach ($pump in $job.Pumps) { if (-not $pump.Eof) { $tasks.Add($pump.Task) } }
        # Once exited, only its pipes (or the drain deadline) matter: a done task would wake us at once, forever.
        if (-not $job.ExitTask.IsCompleted) { $tasks.Add($job.ExitTask) }
    }
    if ($tasks.Count) { $null = [System.Threading.Tasks.Task]::WaitAny($tasks.ToArray(), $script:PollMilliseconds) }
    else { Start-Sleep -Milliseconds $script:PollMilliseconds }
}

function Get-RunTotal {
    param([object[]] $Verdicts, [int] $Planned)
    $passed = 0; $failed = 0; $skipped = 0
    foreach ($v in @($Verdicts)) { $passed += $v.Passed; $failed += $v.Failed; $skipped += $v.Skipped }
    # Every planned suite has exactly one verdict, and every one of them passed.
    $ok = $Planned -gt 0 -and @($Verdicts).Count -eq $Planned -and -not ($Verdicts | Where-Object Status -NE 'passed') -and $failed -eq 0
    [pscustomobject]@{ Ok = [bool] $ok; Passed = $passed; Failed = $failed; Skipped = $skipped }
}

function Complete-Run {
    <# Reports, summary lines, and last the final line. Returns the exit code. #>
    param([Parameter(Mandatory)] [string] $OutputRoot, [object[]] $Verdicts = @(), [int] $Planned, [string] $Headline)
    $totals = Get-RunTotal -Verdicts $Verdicts -Planned $Planned
    if (-not $Planned) { $totals.Failed = [Math]::Max(1, $totals.Failed) }
    try { Write-RunReport -Dir $OutputRoot -Totals $totals -Verdicts $Verdicts -Headline $Headline }
    catch { Write-RunnerLine "The reports could not be written: $_"; $totals.Ok = $false; $totals.Failed = [Math]::Max(1, $totals.Failed) }
    if ($Verdicts) {
        Write-RunnerLine ''
        Write-RunnerLine 'Suites:'
        foreach ($v in $Verdicts) { Write-RunnerLine ('  {0,-9} {1} ({2} passed, {3} failed, {4} skipped, {5:0.0}s)' -f $v.Status, $v.Name, $v.Passed, $v.Failed, $v.Skipped, $v.Seconds) }
        # Skips that CI=true allows only because the summary names them (see Runner/RunnerVerdict.ps1).
        $named = @($Verdicts | Where-Object { @($_.NotInstallable).Count })
        if ($named) {
            Write-RunnerLine 'Skipped, not installable on this platform:'
            foreach ($v in $named) { Write-RunnerLine "  $($v.Name): $((@($v.NotInstallable) | ForEach-Object { ConvertTo-VisibleText -Text $_ }) -join ', ')" }
        }
        Write-FailureDigest -Verdicts $Verdicts
    }
    Write-RunnerLine "Results: $(Join-Path $OutputRoot 'summary.json') (also junit.xml, summary.md)"
    if ($totals.Ok) { Write-RunnerLine 'ALL TESTS PASSED' }
    Write-RunnerLine "Pester: $($totals.Passed) passed, $($totals.Failed) failed, $($totals.Skipped) skipped"
    if ($totals.Ok) { 0 } else { 1 }
}

function Invoke-TestRun {
    <# The whole run. Returns the exit code (0 or 1). #>
    $searchPath = Resolve-FullPath -Value $(if ($Path) { $Path } else { $PSScriptRoot })
    $outputRoot = Resolve-FullPath -Value $(if ($OutputDir) { $OutputDir } else { Join-Path $script:RepoRoot 'out/test-results' })
    $script:OutputLock = Lock-OutputDir -Dir $outputRoot
    if (-not $script:OutputLock) {
        Write-RunnerLine "Another test run is using the output folder $outputRoot (it holds $(Join-Path $outputRoot '.runner.lock')): refusing to run, nothing was tested or touched."
        Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
        return 1
    }
    $lastSeconds = Read-SuiteSeconds -Dir $outputRoot   # the last run's times, before its reports go: the start order's hint
    Initialize-OutputDir -Dir $outputRoot
    $script:ReportRoot = $outputRoot   # ours now: an interrupted run may write its reports here

    foreach ($bad in @(@{ Ok = $SuiteTimeoutSeconds -ge 1; Text = "-SuiteTimeoutSeconds must be at least 1 (got $SuiteTimeoutSeconds)" }, @{ Ok = $Parallel -ge 1; Text = "-Parallel must be at least 1 (got $Parallel)" })) {
        if (-not $bad.Ok) { Write-RunnerLine "$($bad.Text): nothing was tested."; return Complete-Run -OutputRoot $outputRoot -Planned 0 -Headline $bad.Text }
    }
    $found = Find-TestSuite -Path $searchPath
    foreach ($note in $found.Notes) { Write-RunnerLine "  note: $(ConvertTo-VisibleText -Text $note)" }
    if (-not $found.Files) {
        # CTest: "No tests were found!!!" is an error, not an empty success.
        $text = "No suites (*.Tests.ps1) found under $(ConvertTo-VisibleText -Text $searchPath): nothing was tested."
        Write-RunnerLine $text
        return Complete-Run -OutputRoot $outputRoot -Planned 0 -Headline $text
    }
    $plans = @($found.Files | ForEach-Object { Get-SuitePlan -SuitePath $_ })
    $names = @($plans | ForEach-Object { Get-SuiteDisplayName -SuitePath $_.Path -BasePath $searchPath })
    Write-RunnerLine "Plan: $($plans.Count) suite(s) under $(ConvertTo-VisibleText -Text $searchPath), each in its own pwsh, up to $Parallel at once, timeout ${SuiteTimeoutSeconds}s"
    for ($i = 0; $i -lt $plans.Count; $i++) {
        Write-RunnerLine ("  {0} (at least {1} test(s){2})" -f $names[$i], $plans[$i].MinTests, $(if ($plans[$i].Exclusive) { ', host-exclusive' }))
    }

    $order = Get-SuiteStartOrder -Plans $plans -Seconds $lastSeconds -Parallel $Parallel
    if ($Parallel -gt 1 -and $plans.Count -gt 1) {
        $timed = @($plans | Where-Object { $lastSeconds.ContainsKey($_.Path) }).Count
        Write-RunnerLine "Start order: host-exclusive suites first, then the longest first by the last run's times in this output folder ($timed of $($plans.Count) timed; the others first)"
    }

    $null = [MyHvRunnerNative]::BecomeSubreaper()
    $state = [pscustomobject]@{
        RunId = [Convert]::ToHexString([System.Security.Cryptography.RandomNumberGenerator]::GetBytes(6)).ToLowerInvariant(); Seq = 0
        Plans = $plans; Names = $names; Verdicts = [object[]]::new($plans.Count); Order = $order; Next = 0; Parallel = $Parallel; Live = ($Parallel -eq 1)
        Running = [System.Collections.Generic.List[object]]::new(); Warm = [System.Collections.Generic.List[object]]::new()
        OutputRoot = $outputRoot; PesterManifest = (Get-PesterManifestPath)
    }
    $interrupted = 'the runner failed'
    $finished = $false
    try {
        $interrupted = Invoke-Schedule -State $state
        $finished = $true
    } catch {
        # Named in every unstarted or running suite's reason, so a runner bug is never silent.
        $interrupted = "the runner failed: $(ConvertTo-VisibleText -Text "$_") (line $($_.InvocationInfo.ScriptLineNumber) of $([System.IO.Path]::GetFileName($_.InvocationInfo.ScriptName)))"
    } finally {
        # Reached on a signal, a runner failure and a pipeline stop (pwsh's own Ctrl+C) alike:
        # nothing may outlive the run, and the reports and the final line are written here.
        $signal = Get-SignalName
        if ($signal -or $interrupted -or -not $finished -or $state.Running.Count -or $state.Warm.Count) {
            Stop-Run -State $state -Why $(if ($signal) { $signal } elseif ($interrupted) { $interrupted } else { 'the runner stopped' })
            $code = Complete-Run -OutputRoot $outputRoot -Verdicts $state.Verdicts -Planned $plans.Count
            [Console]::Out.Flush()
            [Environment]::Exit([Math]::Max(1, $code))   # an interrupted run never passes, and nothing follows its final line
        }
    }
    Complete-Run -OutputRoot $outputRoot -Verdicts $state.Verdicts -Planned $plans.Count
}

$code = 1
$completed = $false
try {
    # Signals first: a SIGINT or SIGTERM that arrives while the suites are still being planned
    # only sets the flag the scheduler reads, so it too ends in a failed run with its reports.
    . (Join-Path $PSScriptRoot 'Runner/RunnerProcess.ps1')
    Initialize-RunnerNative
    [MyHvRunnerNative]::RegisterSignals()
    . (Join-Path $PSScriptRoot 'Runner/RunnerPwshCache.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerJitSettings.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerPlan.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerOrder.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerCensus.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerVerdict.ps1')
    . (Join-Path $PSScriptRoot 'Runner/RunnerReport.ps1')
    $code = Invoke-TestRun
    $completed = $true
} catch {
    # A runner bug is a failed run, never a green one; the last line keeps its shape.
    Write-RunnerLine "The runner itself failed: $(ConvertTo-VisibleText -Text "$_")"
    Write-RunnerLine ($_.ScriptStackTrace -replace "`n", ' | ')
    Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
    $code = 1
    $completed = $true
} finally {
    # Reached when pwsh itself stops the script (its own Ctrl+C handling) before the scheduler's
    # cleanup took over: still a failed run with a final line, never exit 0 without one.
    if (-not $completed) {
        Write-RunnerLine 'The runner was interrupted before its suites ran.'
        if ($script:ReportRoot) {
            try { $null = Complete-Run -OutputRoot $script:ReportRoot -Planned 0 -Headline 'runner interrupted before its suites ran' } catch { }
        } else {
            Write-RunnerLine 'Pester: 0 passed, 1 failed, 0 skipped'
        }
        [Console]::Out.Flush()
        [Environment]::Exit(1)
    }
}
[Console]::Out.Flush()
$code   # to the launcher above, which exits the process with it
