# Support for Invoke-TestRun.Tests.ps1: runs Invoke-TestRun.ps1 as a child pwsh over fixture
# folders, a few runs at a time (most of a run is pwsh and Pester starting up). Dot-sourced; not a suite.

Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force   # Start-MyHvPwsh: start pwsh the way this one runs

function Start-RunnerRun {
    <#
    Starts the runner over one fixture folder with an argument list. The child inherits this
    process's environment (MYHV_TEST_ROOT included, so the inner runner nests its temp roots in
    ours), changed by $Environment (a $null value removes a variable).
    #>
    param(
        [Parameter(Mandatory)] [string] $RunnerPath,
        [Parameter(Mandatory)] [string] $FixturePath,
        [Parameter(Mandatory)] [string] $OutputDir,
        [int] $SuiteTimeoutSeconds,
        [int] $Parallel = 2,
        [hashtable] $Environment = @{}
    )
    $arguments = @('-Path', $FixturePath, '-OutputDir', $OutputDir, '-Parallel', "$Parallel")
    if ($SuiteTimeoutSeconds) { $arguments += @('-SuiteTimeoutSeconds', "$SuiteTimeoutSeconds") }
    # SIGINT as a terminal's Ctrl+C delivers it: a process started in the background of a
    # non-interactive shell (as CI harnesses and tool runners do) inherits SIGINT ignored, and
    # .NET keeps an inherited ignore (as nohup asks), so the interrupt scenarios would test nothing.
    $process = Start-MyHvPwsh -File $RunnerPath -ArgumentList $arguments -Environment $Environment `
        -WorkingDirectory (Get-Location -PSProvider FileSystem).ProviderPath -Wrapper @('env', '--default-signal=INT')
    [pscustomobject]@{
        Process   = $process
        Stdout    = $process.StdoutTask
        Stderr    = $process.StderrTask
        OutputDir = $OutputDir
        Clock     = [System.Diagnostics.Stopwatch]::StartNew()
    }
}

function Complete-RunnerRun {
    <# Waits for a started run (killing it past $LimitSeconds) and returns exit code, stdout lines, stderr and summary.json. #>
    param([Parameter(Mandatory)] $Run, [int] $LimitSeconds = 600)
    $remaining = [Math]::Max(1, $LimitSeconds - [int] $Run.Clock.Elapsed.TotalSeconds)
    if (-not $Run.Process.WaitForExit($remaining * 1000)) {
        $Run.Process.Kill($true)
        throw "The runner over $($Run.OutputDir) did not finish within ${LimitSeconds}s"
    }
    $Run.Process.WaitForExit()
    $stdout = $Run.Stdout.GetAwaiter().GetResult()
    $lines = [System.Collections.Generic.List[string]]::new([string[]] ($stdout -split '\r?\n'))
    while ($lines.Count -and $lines[$lines.Count - 1] -eq '') { $lines.RemoveAt($lines.Count - 1) }
    $summaryPath = Join-Path $Run.OutputDir 'summary.json'
    [pscustomobject]@{
        ExitCode = $Run.Process.ExitCode
        Pid      = $Run.Process.Id
        Lines    = $lines.ToArray()
        Stderr   = $Run.Stderr.GetAwaiter().GetResult()
        Summary  = if (Test-Path -LiteralPath $summaryPath) { Get-Content -LiteralPath $summaryPath -Raw | ConvertFrom-Json } else { $null }
        Seconds  = $Run.Clock.Elapsed.TotalSeconds
        OutputDir = $Run.OutputDir
        Second   = $Run.PSObject.Properties['Second'] ? $Run.Second : $null
    }
}

function Add-StaleResult {
    <#
    Leaves a convincing "previous run" in an output directory: a passing summary.json and, where
    the runner will put its first suite, a passing goodbye and results file. A runner that read
    anything from an earlier run would report a pass.
    #>
    param([Parameter(Mandatory)] [string] $OutputDir, [Parameter(Mandatory)] [string] $SuiteDirName)
    $suiteDir = Join-Path $OutputDir "suites/$SuiteDirName"
    $null = New-Item -ItemType Directory -Path $suiteDir -Force
    Set-Content -LiteralPath (Join-Path $OutputDir 'summary.json') -Value '{ "ok": true, "passed": 3, "failed": 0, "skipped": 0, "suites": [] }'
    $xml = '<?xml version="1.0" encoding="utf-8"?><test-results total="3" failures="0"><test-case name="a" result="Success" /><test-case name="b" result="Success" /><test-case name="c" result="Success" /></test-results>'
    Set-Content -LiteralPath (Join-Path $suiteDir 'results.xml') -Value $xml
    $hash = (Get-FileHash -LiteralPath (Join-Path $suiteDir 'results.xml') -Algorithm SHA256).Hash
    $goodbye = @{ nonce = 'stale'; error = $null; results = @{ sha256 = $hash }
        run = @{ result = 'Passed'; total = 3; passed = 3; failed = 0; skipped = 0; inconclusive = 0; notRun = 0; failedBlocks = 0; failedContainers = 0 } }
    Set-Content -LiteralPath (Join-Path $suiteDir 'goodbye.json') -Value ($goodbye | ConvertTo-Json -Depth 4)
}

function Add-LastRunSeconds {
    <# A summary.json of a "previous run" in an output directory that timed the named fixture files (file name -> seconds). #>
    param([Parameter(Mandatory)] [string] $OutputDir, [Parameter(Mandatory)] [string] $FixturePath, [Parameter(Mandatory)] [hashtable] $Seconds)
    $suites = @(foreach ($file in Get-ChildItem -LiteralPath $FixturePath -Recurse -File -Filter '*.Tests.ps1') {
            if ($Seconds.ContainsKey($file.Name)) { [ordered]@{ path = $file.FullName; status = 'passed'; seconds = $Seconds[$file.Name] } }
        })
    Set-Content -LiteralPath (Join-Path $OutputDir 'summary.json') -Value (ConvertTo-Json -Depth 4 -InputObject ([ordered]@{ ok = $true; suites = $suites }))
}

function Invoke-RunnerScenario {
    <#
    Runs every scenario (see RunnerScenarios.psd1), at most $Throttle runs at once, long idle ones
    (with a timeout) first. Returns a hashtable: scenario name -> result of Complete-RunnerRun.
    #>
    param(
        [Parameter(Mandatory)] [object[]] $Scenarios,
        [Parameter(Mandatory)] [string] $FixtureRoot,
        [Parameter(Mandatory)] [string] $WorkRoot,
        [Parameter(Mandatory)] [string] $RunnerPath,
        [int] $Throttle = 3
    )
    $results = @{}
    $running = [System.Collections.Generic.List[object]]::new()
    # The serial run over every fixture is the longest chain: first; then the ones that wait on a timeout.
    $ordered = @($Scenarios | Sort-Object { -not $_.ContainsKey('Serial') }, { -not $_.ContainsKey('TimeoutSeconds') }, { $_.Name })
    foreach ($scenario in $ordered) {
        while ($running.Count -ge $Throttle) {
            $done = @($running | Where-Object { $_.Run.Process.HasExited })
            if (-not $done) { Start-Sleep -Milliseconds 100; continue }
            foreach ($d in $done) { $results[$d.Name] = Complete-RunnerRun -Run $d.Run; $null = $running.Remove($d) }
        }
        $outDir = Join-Path $WorkRoot "$($scenario.Name)/out"
        $fixtureOut = Join-Path $WorkRoot "$($scenario.Name)/fx"
        $null = New-Item -ItemType Directory -Path $outDir, $fixtureOut -Force
        $fixture = if ($scenario.ContainsKey('Fixture')) { $scenario.Fixture } else { $scenario.Name }
        $fixturePath = if ($scenario.ContainsKey('Generate')) { & $scenario.Generate -Root (Join-Path $WorkRoot "$($scenario.Name)/src") }
            elseif ($fixture -eq '.') { $FixtureRoot } else { Join-Path $FixtureRoot $fixture }
        if ($scenario.ContainsKey('SeedStale')) { Add-StaleResult -OutputDir $outDir -SuiteDirName "001-$fixture" }
        if ($scenario.ContainsKey('SeedSeconds')) { Add-LastRunSeconds -OutputDir $outDir -FixturePath $fixturePath -Seconds $scenario.SeedSeconds }
        # CI only where a scenario asks for it: only the Prerequisite fixture depends on it.
        $ci = if ($scenario.ContainsKey('CI') -and $scenario.CI) { $scenario.CI } else { $null }
        $run = Start-RunnerRun -RunnerPath $RunnerPath -FixturePath $fixturePath -OutputDir $outDir `
            -SuiteTimeoutSeconds $(if ($scenario.ContainsKey('TimeoutSeconds')) { $scenario.TimeoutSeconds } else { 0 }) `
            -Parallel $(if ($scenario.ContainsKey('Parallel')) { $scenario.Parallel } else { 2 }) `
            -Environment @{ MYHV_FIXTURE_OUT = $fixtureOut; CI = $ci; GITHUB_STEP_SUMMARY = (Join-Path $WorkRoot "$($scenario.Name)/step-summary.md"); MYHV_RUNNER_SUITE = (@($env:MYHV_RUNNER_SUITE, $script:TestMarker) | Where-Object { $_ }) -join ' ' }
        if ($scenario.ContainsKey('Signal')) { Send-RunnerSignal -Run $run -Scenario $scenario -FixtureOut $fixtureOut -RunnerPath $RunnerPath -FixturePath $fixturePath -OutputDir $outDir }
        $running.Add([pscustomobject]@{ Name = $scenario.Name; Run = $run })
    }
    foreach ($r in $running) { $results[$r.Name] = Complete-RunnerRun -Run $r.Run }
    $results
}

function Test-ProcessGone {
    <# True when no live process has this pid (it is absent from /proc or only a zombie). #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    $stat = "/proc/$ProcessId/stat"
    if (-not (Test-Path -LiteralPath $stat)) { return $true }
    try { $text = [System.IO.File]::ReadAllText($stat) } catch { return $true }
    $text.Substring($text.LastIndexOf(')') + 2).StartsWith('Z')
}

# A token every inner runner's suites carry in MYHV_RUNNER_SUITE (after ours, before their own),
# so the tests can look for any surviving process of any inner run.
$script:TestMarker = 'rt' + [guid]::NewGuid().ToString('N').Substring(0, 10)

function Get-SurvivingInnerProcess {
    <# Live processes that carry this test's marker token: anything an inner run's suites left running. #>
    $pattern = "(?:^|\x00)MYHV_RUNNER_SUITE=[^\x00]*\b$($script:TestMarker)\b"
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try { $environ = [System.IO.File]::ReadAllText("$dir/environ"); $stat = [System.IO.File]::ReadAllText("$dir/stat") } catch { continue }
        if ($stat.Substring($stat.LastIndexOf(')') + 2).StartsWith('Z')) { continue }
        # The inner runners themselves carry only the test marker; their suites carry one more token.
        if ($environ -match "(?:^|\x00)MYHV_RUNNER_SUITE=[^\x00]*\b$($script:TestMarker) \S") {
            "$procId`: $(([System.IO.File]::ReadAllText("$dir/cmdline")).Replace([char]0, ' '))"
        }
    }
}

function Send-RunnerSignal {
    <#
    For an interrupt scenario: waits until the fixture's suite is running (its pid file exists),
    optionally starts a second runner on the same -OutputDir (it must refuse), then signals the runner.
    #>
    param($Run, $Scenario, [string] $FixtureOut, [string] $RunnerPath, [string] $FixturePath, [string] $OutputDir)
    $pidFile = Join-Path $FixtureOut $Scenario.PidFile
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    while (-not (Test-Path -LiteralPath $pidFile) -and -not $Run.Process.HasExited -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    Start-Sleep -Milliseconds 500
    if ($Scenario.ContainsKey('LockProbe')) {
        $second = Start-RunnerRun -RunnerPath $RunnerPath -FixturePath $FixturePath -OutputDir $OutputDir -Environment @{ MYHV_FIXTURE_OUT = (Join-Path $FixtureOut 'second') }
        $Run | Add-Member -NotePropertyName Second -NotePropertyValue (Complete-RunnerRun -Run $second -LimitSeconds 120)
    }
    & (Get-Command kill -CommandType Application | Select-Object -First 1).Source -s $Scenario.Signal -- "$($Run.Process.Id)"
}

function New-NamesFixture {
    <#
    A passing folder whose names hold brackets, spaces, `*`, `?`, non-ASCII letters and a
    lower-case suffix, next to the files a wildcard reading of those names would pick instead.
    One file is UTF-8 with a BOM and CRLF line endings. Each suite checks it is its own file.
    Expected: 11 passed, 0 failed, 1 skipped.
    #>
    param([Parameter(Mandatory)] [string] $Root)
    $dir = Join-Path $Root 'spaced [dir] ü'
    $null = New-Item -ItemType Directory -Path $dir -Force
    $write = {
        param([string] $Name, [string] $Body, [switch] $BomCrlf)
        $text = "Describe '$($Name.Replace("'", "''"))' {`n    It 'is this very file' { [System.IO.Path]::GetFileName(`$PSCommandPath) | Should -BeExactly '$($Name.Replace("'", "''"))' }`n$Body`n}`n"
        $encoding = [System.Text.UTF8Encoding]::new([bool] $BomCrlf)
        if ($BomCrlf) { $text = $text.Replace("`n", "`r`n") }
        [System.IO.File]::WriteAllText([System.IO.Path]::Join($dir, $Name), $text, $encoding)
    }
    & $write '[v2] api.Tests.ps1' "    It 'second' { 1 | Should -Be 1 }`n    It 'skipped' -Skip { throw 'never' }"
    & $write 'v api.Tests.ps1' ''
    & $write '2 api.Tests.ps1' ''
    & $write 'a*b?.Tests.ps1' "    It 'two' { 2 | Should -Be 2 }`n    It 'three' { 3 | Should -Be 3 }"
    & $write 'aXbY.Tests.ps1' ''
    & $write 'Ünïcödé Straße.Tests.ps1' "    It 'keeps non-ASCII text' { 'Straße'.Length | Should -Be 6 }" -BomCrlf
    & $write 'lower.tests.ps1' ''
    $dir
}

function New-DiscoveryFixture {
    <#
    Hidden folder, .git (never entered), a symlinked folder (to a folder outside), a second link
    to a folder already walked (its file runs once), a symlink loop (reported), an upper-case
    suffix. Expected: Hidden, Real, Outside and UPPER each 1 passed; the .git suite never runs.
    #>
    param([Parameter(Mandatory)] [string] $Root)
    $tree = Join-Path $Root 'tree'
    $outside = Join-Path $Root 'outside-target'
    foreach ($d in '.ci-only', '.git', 'real', 'loop') { $null = New-Item -ItemType Directory -Path (Join-Path $tree $d) -Force }
    $null = New-Item -ItemType Directory -Path $outside -Force
    $pass = { param($Path, $Name) Set-Content -LiteralPath $Path -Value "Describe '$Name' { It 'runs' { 1 | Should -Be 1 } }" }
    & $pass (Join-Path $tree '.ci-only/Hidden.Tests.ps1') 'hidden'
    Set-Content -LiteralPath (Join-Path $tree '.git/Never.Tests.ps1') -Value "Describe 'in .git' { It 'must never run' { throw 'ran a suite under .git' } }"
    & $pass (Join-Path $tree 'real/Real.Tests.ps1') 'real'
    & $pass (Join-Path $outside 'Outside.Tests.ps1') 'outside'
    & $pass (Join-Path $tree 'UPPER.TESTS.PS1') 'upper'
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $tree 'alias') -Target (Join-Path $tree 'real')
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $tree 'loop/back') -Target $tree
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $tree 'outside') -Target $outside
    $tree
}

function New-NewlineFixture {
    <#
    A failing suite whose file name holds newlines, an escape character and text that would read
    as the runner's own verdict and final line if printed raw.
    #>
    param([Parameter(Mandatory)] [string] $Root)
    $null = New-Item -ItemType Directory -Path $Root -Force
    $name = "evil`nALL TESTS PASSED`nPester: 9 passed, 0 failed, 0 skipped`e[2K.Tests.ps1"
    Set-Content -LiteralPath ([System.IO.Path]::Join($Root, $name)) -Value "Describe 'evil' { It 'fails' { 1 | Should -Be 2 } }"
    $Root
}

function New-SerialFixture {
    <#
    Every committed fixture folder as a symlink (discovery follows them), but those whose scenario
    is marked SerialApart (the Hang fixture: its timeout would hold up the whole serial chain;
    HangSerial runs it with -Parallel 1 on its own).
    #>
    param([Parameter(Mandatory)] [string] $Root)
    $fixtures = Join-Path (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)) 'RunnerFixtures'
    $apart = @((Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'RunnerScenarios.psd1')).Scenarios |
            Where-Object { $_.ContainsKey('SerialApart') } | ForEach-Object { if ($_.ContainsKey('Fixture')) { $_.Fixture } else { $_.Name } })
    $null = New-Item -ItemType Directory -Path $Root -Force
    foreach ($dir in Get-ChildItem -LiteralPath $fixtures -Directory) {
        if ($dir.Name -notin $apart) { $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Root $dir.Name) -Target $dir.FullName }
    }
    $Root
}

function Assert-SuiteVerdict {
    <# One suite of a summary.json against its expectation from RunnerScenarios.psd1. #>
    param([Parameter(Mandatory)] $Suite, [Parameter(Mandatory)] [hashtable] $Expected)
    $label = if ($Expected.ContainsKey('File')) { $Expected.File } else { $Expected.FileLike }
    if ($Expected.ContainsKey('StatusIn')) { $Suite.status | Should -BeIn $Expected.StatusIn -Because "${label}: $($Suite.reason)" }
    else { $Suite.status | Should -Be $Expected.Status -Because "${label}: $($Suite.reason)" }
    if ($Expected.ContainsKey('Passed')) { $Suite.passed | Should -Be $Expected.Passed -Because "$label passed" }
    $Suite.failed | Should -Be $Expected.Failed -Because "$label failed"
    $Suite.skipped | Should -Be $Expected.Skipped -Because "$label skipped"
    if ($Expected.ContainsKey('SuiteExitCode')) { $Suite.exitCode | Should -Be $Expected.SuiteExitCode -Because "$label exit code" }
    if ($Expected.ContainsKey('Reason')) { $Suite.reason | Should -BeLike $Expected.Reason }
    # Only skips whose reason says "not installable on this platform: <name>" are listed, by name.
    $Suite.PSObject.Properties.Name | Should -Contain 'notInstallable'
    $named = if ($Expected.ContainsKey('NotInstallable')) { $Expected.NotInstallable } else { @() }
    @($Suite.notInstallable) | Should -Be @($named) -Because "$label notInstallable"
    if ($Suite.status -eq 'passed') { $Suite.reason | Should -BeNullOrEmpty } else { $Suite.reason | Should -Not -BeNullOrEmpty }
}

function Read-JUnitReport {
    <# junit.xml parsed and validated against junit.xsd (the common JUnit XML schema, as Jenkins and Ant define it); throws on any violation. #>
    param([Parameter(Mandatory)] [string] $Path)
    $settings = [System.Xml.XmlReaderSettings]::new()
    $null = $settings.Schemas.Add($null, (Join-Path $PSScriptRoot 'junit.xsd'))
    $settings.ValidationType = [System.Xml.ValidationType]::Schema
    $settings.ValidationFlags = $settings.ValidationFlags -bor [System.Xml.Schema.XmlSchemaValidationFlags]::ReportValidationWarnings
    $reader = [System.Xml.XmlReader]::Create($Path, $settings)
    try { $doc = [System.Xml.XmlDocument]::new(); $doc.Load($reader) } finally { $reader.Dispose() }
    $doc
}
