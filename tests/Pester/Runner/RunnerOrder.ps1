# The order in which Invoke-TestRun.ps1 starts its suites (not the order it reports them in: the
# summary is always in plan order). Dot-sourced. Not a suite.
#
# Why: with -Parallel n, a run lasts at least as long as its longest suite from the moment that
# suite starts. In plan (alphabetical) order a long suite near the end runs alone after all the
# others, and a host-exclusive suite in the middle makes every running suite drain first while
# the other slots idle. So, as CTest does with its cost data:
#   1. host-exclusive suites first (in plan order): at the start nothing else is running to wait for;
#   2. then suites the last run in this -OutputDir did not time (new, renamed, or the first run);
#      nothing is known of them, so they may be long;
#   3. then the rest, longest first, by the seconds that run took (summary.json's `seconds`).
# With -Parallel 1 the order cannot change the run's length: plan order.

function Read-SuiteSeconds {
    <#
    path -> seconds of each suite of the last run in $Dir (its summary.json), read before this run
    replaces it. A hint only: a missing, unreadable or hand-edited file, and any entry that is not a
    path with a finite, non-negative number, give no estimate instead of an error.
    #>
    param([Parameter(Mandatory)] [string] $Dir)
    $seconds = @{}
    $file = Join-Path $Dir 'summary.json'
    try {
        if (-not [System.IO.File]::Exists($file) -or (Get-Item -LiteralPath $file -Force).LinkType) { return $seconds }
        $summary = [System.IO.File]::ReadAllText($file) | ConvertFrom-Json -ErrorAction Stop
        foreach ($suite in @($summary.suites)) {
            $path = $suite.PSObject.Properties['path']; $value = $suite.PSObject.Properties['seconds']
            if (-not $path -or -not $value -or $path.Value -isnot [string] -or -not $path.Value) { continue }
            if ($value.Value -isnot [double] -and $value.Value -isnot [long] -and $value.Value -isnot [int] -and $value.Value -isnot [decimal]) { continue }
            $number = [double] $value.Value
            if ([double]::IsFinite($number) -and $number -ge 0) { $seconds[$path.Value] = $number }
        }
    } catch { return @{} }
    $seconds
}

function Get-SuiteStartOrder {
    <# Indexes into $Plans in the order their suites start (see the top of this file). #>
    param([Parameter(Mandatory)] [object[]] $Plans, [hashtable] $Seconds = @{}, [int] $Parallel = 1)
    $indexes = @(0..($Plans.Count - 1))
    if ($Parallel -le 1 -or $Plans.Count -le 1) { return $indexes }
    $exclusive = @($indexes | Where-Object { $Plans[$_].Exclusive })
    $unknown = @($indexes | Where-Object { -not $Plans[$_].Exclusive -and -not $Seconds.ContainsKey($Plans[$_].Path) })
    # Sort-Object is stable: equal times keep plan order.
    $known = @($indexes | Where-Object { -not $Plans[$_].Exclusive -and $Seconds.ContainsKey($Plans[$_].Path) } |
            Sort-Object -Stable -Descending -Property { $Seconds[$Plans[$_].Path] })
    @($exclusive) + @($unknown) + @($known)
}
