# The run's reports: summary.json (the contract's shape), junit.xml (what CI systems read) and
# summary.md (a Markdown table for a CI step summary, appended to $GITHUB_STEP_SUMMARY when set).
# Every file is written to a temp name and renamed into place. Dot-sourced; not a suite.

function Write-AtomicText {
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [AllowEmptyString()] [string] $Text)
    $temp = "$Path.tmp-$PID"
    [System.IO.File]::WriteAllText($temp, $Text, [System.Text.UTF8Encoding]::new($false))
    [System.IO.File]::Move($temp, $Path, $true)
}

function Write-SummaryJson {
    param([Parameter(Mandatory)] [string] $Dir, [Parameter(Mandatory)] $Totals, [object[]] $Verdicts = @())
    $summary = [ordered]@{
        ok      = $Totals.Ok
        passed  = $Totals.Passed
        failed  = $Totals.Failed
        skipped = $Totals.Skipped
        suites  = @($Verdicts | ForEach-Object {
                # The contract's fields, then notInstallable (the prerequisites its skips name as not
                # installable here) and seconds (the next run's start order reads them: Runner/RunnerOrder.ps1).
                [ordered]@{ path = $_.Path; status = $_.Status; exitCode = $_.ExitCode; passed = $_.Passed; failed = $_.Failed; skipped = $_.Skipped; reason = $_.Reason
                    notInstallable = @($_.NotInstallable)
                    seconds = $(if ("$($_.Reason)" -like 'runner interrupted*') { $null } else { [Math]::Round([double] $_.Seconds, 1) }) }   # an interrupted suite's time says nothing
            })
    }
    Write-AtomicText -Path (Join-Path $Dir 'summary.json') -Text (ConvertTo-Json -InputObject $summary -Depth 5)
}

function ConvertTo-XmlText {
    <# Text valid in XML 1.0: control characters (not tab/newline) as visible escapes, lone surrogates as U+FFFD. XmlWriter escapes the rest. #>
    param([AllowNull()] [string] $Text)
    if ($null -eq $Text) { return '' }
    $Text = [regex]::Replace($Text, '[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uFFFE\uFFFF]', "`u{FFFD}")
    [regex]::Replace($Text, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]', { param($m) if ([int][char] $m.Value -eq 27) { '\e' } else { '\x{0:X2}' -f [int][char]$m.Value } })
}

function Write-JUnitStandIn {
    <# One testcase for a test the suite counted but whose details were not exported. #>
    param([Parameter(Mandatory)] $Xml, [Parameter(Mandatory)] [string] $Suite, [int] $Number, [switch] $Skipped)
    $Xml.WriteStartElement('testcase')
    $Xml.WriteAttributeString('name', "$Suite $(if ($Skipped) { 'skipped' } else { 'passed' }) test $Number (details not exported)")
    $Xml.WriteAttributeString('classname', $Suite)
    $Xml.WriteAttributeString('time', '0')
    if ($Skipped) { $Xml.WriteStartElement('skipped'); $Xml.WriteAttributeString('message', 'details not exported'); $Xml.WriteEndElement() }
    $Xml.WriteEndElement()
}

function Write-JUnitReport {
    <#
    junit.xml in the common JUnit XML shape (testsuites > testsuite > testcase > failure/skipped,
    counts as tests/failures/errors/skipped attributes): one testsuite per suite, one testcase per
    test, and for a suite that did not pass for a reason of its own (crashed, timed out, no
    results, leaked, empty, or failed with no failed test) one failing testcase named after the
    suite with the reason as its message. Its counts equal summary.json's.
    #>
    param([Parameter(Mandatory)] [string] $Dir, [Parameter(Mandatory)] $Totals, [object[]] $Verdicts = @(), [string] $Headline, [string] $Hostname = [Environment]::MachineName)
    $settings = [System.Xml.XmlWriterSettings]::new()
    $settings.Indent = $true
    $settings.Encoding = [System.Text.UTF8Encoding]::new($false)
    $buffer = [System.IO.MemoryStream]::new()
    $xml = [System.Xml.XmlWriter]::Create($buffer, $settings)
    $xml.WriteStartDocument()
    $xml.WriteStartElement('testsuites')
    $xml.WriteAttributeString('name', 'Invoke-TestRun')
    $xml.WriteAttributeString('tests', [string] ($Totals.Passed + $Totals.Failed + $Totals.Skipped))
    $xml.WriteAttributeString('failures', [string] $Totals.Failed)
    $xml.WriteAttributeString('errors', '0')
    $xml.WriteAttributeString('skipped', [string] $Totals.Skipped)
    $seconds = 0.0; foreach ($v in @($Verdicts)) { $seconds += [double] $v.Seconds }
    $xml.WriteAttributeString('time', $seconds.ToString('0.000', [cultureinfo]::InvariantCulture))
    $id = 0
    foreach ($v in $Verdicts) {
        $suiteName = ConvertTo-XmlText -Text $v.Name
        $xml.WriteStartElement('testsuite')
        $xml.WriteAttributeString('name', $suiteName)
        $xml.WriteAttributeString('tests', [string] ($v.Passed + $v.Failed + $v.Skipped))
        $xml.WriteAttributeString('failures', [string] $v.Failed)
        $xml.WriteAttributeString('errors', '0')
        $xml.WriteAttributeString('skipped', [string] $v.Skipped)
        $xml.WriteAttributeString('time', ([double] $v.Seconds).ToString('0.000', [cultureinfo]::InvariantCulture))
        $xml.WriteAttributeString('timestamp', $v.Started.ToString('yyyy-MM-ddTHH:mm:ss', [cultureinfo]::InvariantCulture))
        $xml.WriteAttributeString('hostname', $Hostname)
        $xml.WriteAttributeString('id', [string] $id); $id++
        $xml.WriteAttributeString('package', 'MyHypervisor')
        $xml.WriteStartElement('properties')
        $xml.WriteStartElement('property'); $xml.WriteAttributeString('name', 'path'); $xml.WriteAttributeString('value', (ConvertTo-XmlText -Text $v.Path)); $xml.WriteEndElement()
        $xml.WriteStartElement('property'); $xml.WriteAttributeString('name', 'status'); $xml.WriteAttributeString('value', $v.Status); $xml.WriteEndElement()
        $xml.WriteEndElement()
        if ($v.Failed -gt $v.FailedTests) {
            $xml.WriteStartElement('testcase')
            $xml.WriteAttributeString('name', $suiteName)
            $xml.WriteAttributeString('classname', $suiteName)
            $xml.WriteAttributeString('time', '0')
            $xml.WriteStartElement('failure')
            $xml.WriteAttributeString('message', (ConvertTo-XmlText -Text "$($v.Status): $($v.Reason)"))
            $xml.WriteAttributeString('type', $v.Status)
            $xml.WriteString((ConvertTo-XmlText -Text $v.Reason))
            $xml.WriteEndElement()
            $xml.WriteEndElement()
        }
        $written = @{ Passed = 0; Skipped = 0 }
        foreach ($t in @($v.Tests)) {
            if ($t.result -notin 'Passed', 'Failed', 'Skipped', 'Inconclusive', 'NotRun') { continue }
            if ($t.result -eq 'Passed') { $written.Passed++ } elseif ($t.result -ne 'Failed') { $written.Skipped++ }
            $xml.WriteStartElement('testcase')
            $xml.WriteAttributeString('name', (ConvertTo-XmlText -Text $t.path))
            $xml.WriteAttributeString('classname', (ConvertTo-XmlText -Text "$($v.Name).$($t.block)"))
            $xml.WriteAttributeString('time', ([double] $t.seconds).ToString('0.000', [cultureinfo]::InvariantCulture))
            if ($t.result -eq 'Failed') {
                $message = ConvertTo-XmlText -Text $t.message
                $xml.WriteStartElement('failure')
                $xml.WriteAttributeString('message', $message)
                $xml.WriteAttributeString('type', 'failed')
                $xml.WriteString($message)
                $xml.WriteEndElement()
            } elseif ($t.result -ne 'Passed') {
                $xml.WriteStartElement('skipped')
                $xml.WriteAttributeString('message', $t.result)
                $xml.WriteEndElement()
            }
            $xml.WriteEndElement()
        }
        # Counted but not exported one by one (a suite whose results file is missing): stand-ins,
        # so junit.xml's counts still equal summary.json's.
        for ($n = $written.Passed; $n -lt $v.Passed; $n++) { Write-JUnitStandIn -Xml $xml -Suite $suiteName -Number ($n + 1) }
        for ($n = $written.Skipped; $n -lt $v.Skipped; $n++) { Write-JUnitStandIn -Xml $xml -Suite $suiteName -Number ($n + 1) -Skipped }
        $xml.WriteEndElement()
    }
    if (-not @($Verdicts).Count -and $Totals.Failed -gt 0) {
        # Nothing ran (no suites, bad parameters): the run itself is the failing test case.
        $xml.WriteStartElement('testsuite')
        foreach ($a in @(@('name', 'Invoke-TestRun'), @('tests', '1'), @('failures', '1'), @('errors', '0'), @('skipped', '0'), @('time', '0'))) { $xml.WriteAttributeString($a[0], $a[1]) }
        $xml.WriteStartElement('testcase'); $xml.WriteAttributeString('name', 'Invoke-TestRun'); $xml.WriteAttributeString('classname', 'Invoke-TestRun')
        $xml.WriteStartElement('failure'); $xml.WriteAttributeString('message', (ConvertTo-XmlText -Text $Headline)); $xml.WriteAttributeString('type', 'norun'); $xml.WriteEndElement()
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()
    $xml.WriteEndDocument()
    $xml.Flush(); $xml.Dispose()
    Write-AtomicText -Path (Join-Path $Dir 'junit.xml') -Text ([System.Text.Encoding]::UTF8.GetString($buffer.ToArray()) + "`n")
}

function ConvertTo-MarkdownCell {
    param([AllowNull()] [string] $Text)
    (ConvertTo-VisibleText -Text $Text).Replace('|', '\|').Replace('<', '&lt;')
}

function Write-MarkdownSummary {
    <# summary.md: totals and a table in plan order; appended to $env:GITHUB_STEP_SUMMARY when set. #>
    param([Parameter(Mandatory)] [string] $Dir, [Parameter(Mandatory)] $Totals, [object[]] $Verdicts = @(), [string] $Headline)
    $sb = [System.Text.StringBuilder]::new()
    $mark = if ($Totals.Ok) { 'PASSED' } else { 'FAILED' }
    $null = $sb.AppendLine("## Pester: $mark").AppendLine()
    if ($Headline) { $null = $sb.AppendLine((ConvertTo-MarkdownCell -Text $Headline)).AppendLine() }
    $null = $sb.AppendLine("**$($Totals.Passed) passed, $($Totals.Failed) failed, $($Totals.Skipped) skipped** in $(@($Verdicts).Count) suite(s)").AppendLine()
    if (@($Verdicts).Count) {
        $null = $sb.AppendLine('| status | suite | passed | failed | skipped | seconds | reason |')
        $null = $sb.AppendLine('| --- | --- | ---: | ---: | ---: | ---: | --- |')
        foreach ($v in $Verdicts) {
            $null = $sb.AppendLine(('| {0} | {1} | {2} | {3} | {4} | {5} | {6} |' -f $v.Status, (ConvertTo-MarkdownCell -Text $v.Name), $v.Passed, $v.Failed, $v.Skipped,
                    ([double] $v.Seconds).ToString('0.0', [cultureinfo]::InvariantCulture), (ConvertTo-MarkdownCell -Text $v.Reason)))
        }
    }
    $named = @($Verdicts | Where-Object { @($_.NotInstallable).Count })
    if ($named) {
        $null = $sb.AppendLine().AppendLine('**Skipped: not installable on this platform**').AppendLine()
        foreach ($v in $named) { $null = $sb.AppendLine("- $(ConvertTo-MarkdownCell -Text $v.Name): $((@($v.NotInstallable) | ForEach-Object { ConvertTo-MarkdownCell -Text $_ }) -join ', ')") }
    }
    $text = $sb.ToString()
    Write-AtomicText -Path (Join-Path $Dir 'summary.md') -Text $text
    if ($env:GITHUB_STEP_SUMMARY) {
        try { [System.IO.File]::AppendAllText($env:GITHUB_STEP_SUMMARY, $text + "`n", [System.Text.UTF8Encoding]::new($false)) }
        catch { Write-RunnerLine "    note: could not append to GITHUB_STEP_SUMMARY: $($_.Exception.Message)" }
    }
}

function Write-RunReport {
    <# All three reports. A report that cannot be written makes the run fail (.Ok = $false), never passes silently. #>
    param([Parameter(Mandatory)] [string] $Dir, [Parameter(Mandatory)] $Totals, [object[]] $Verdicts = @(), [string] $Headline)
    Write-SummaryJson -Dir $Dir -Totals $Totals -Verdicts $Verdicts
    Write-JUnitReport -Dir $Dir -Totals $Totals -Verdicts $Verdicts -Headline $Headline
    Write-MarkdownSummary -Dir $Dir -Totals $Totals -Verdicts $Verdicts -Headline $Headline
}

function Write-FailureDigest {
    <#
    Near the end of the output, what failed and why: each suite that did not pass, its reason, and
    each failed test with the start of its message. A CI log is often read from its tail (or cut to
    it), where the suites' own blocks are long gone. Every line is escaped and indented, so nothing
    here can end or fake the runner's final lines.
    #>
    param([object[]] $Verdicts = @(), [int] $TestsPerSuite = 10, [int] $MessageChars = 400)
    $bad = @($Verdicts | Where-Object { $_.Status -ne 'passed' -or $_.FailedTests -gt 0 })
    if (-not $bad) { return }
    Write-RunnerLine 'Failures:'
    foreach ($v in $bad) {
        # Its first line: the output tails a reason carries are in the suite's own block above.
        $reason = ([string] $v.Reason -split "`n", 2)[0]
        if ($reason.Length -gt 2 * $MessageChars) { $reason = $reason.Substring(0, 2 * $MessageChars) + '...' }
        $why = if ($reason) { ": $(ConvertTo-VisibleText -Text $reason)" } else { '' }
        Write-RunnerLine "  $($v.Name) ($($v.Status))$why"
        $failed = @($v.Tests | Where-Object { $_.result -eq 'Failed' })
        foreach ($t in ($failed | Select-Object -First $TestsPerSuite)) {
            $message = [string] $t.message
            if ($message.Length -gt $MessageChars) { $message = $message.Substring(0, $MessageChars) + '...' }
            $where = if ($t.block) { "$($t.block) > $($t.name)" } else { [string] $t.name }
            Write-RunnerLine "    [-] $(ConvertTo-VisibleText -Text $where): $(ConvertTo-VisibleText -Text $message)"
        }
        if ($failed.Count -gt $TestsPerSuite) { Write-RunnerLine "    ... and $($failed.Count - $TestsPerSuite) more (junit.xml has them all)" }
    }
}
