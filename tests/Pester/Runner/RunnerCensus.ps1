# The leak check (as cargo-nextest does it): after each suite's child has ended, look for anything
# of that suite still alive on the host, report it as a leak (the suite fails), then remove it so
# the next suite and the machine start clean. Dot-sourced by Invoke-TestRun.ps1; not a suite.
#
# What belongs to a suite: processes carrying its environment marker, of its process group or
# session, or naming its MYHV_TEST_ROOT (see Find-SuiteProcess),
# network devices named mh* and network namespaces that were not there before it started,
# virtiofsd lock files under /run/virtiofsd naming its root, and mounts under its root.
# Devices and namespaces carry no owner, and this host is shared: another test run may create a
# namespace (with no process in it yet) while this suite runs. So a new device or namespace is
# this suite's leak only when nothing else claims it: no process outside the suite holds the TAP
# or lives in the namespace, and no other test session is running on the host. Otherwise it is
# reported as a note and left alone: deleting another run's namespace would break that run.

$script:VirtiofsdRunDir = '/run/virtiofsd'
$script:IpExe = (Get-Command -Name ip -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
$script:UmountExe = (Get-Command -Name umount -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
# Resolved as programs on purpose: in pwsh, 'rm' and 'kill' are aliases of cmdlets.
$script:RmExe = (Get-Command -Name rm -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source

function Get-HostNetSnapshot {
    <# mh* network devices and network namespaces that exist right now. #>
    [pscustomobject]@{
        Devices    = @(Get-ChildItem -LiteralPath '/sys/class/net' -ErrorAction SilentlyContinue | Where-Object Name -Like 'mh*' | ForEach-Object Name)
        Namespaces = @(Get-ChildItem -LiteralPath '/run/netns' -ErrorAction SilentlyContinue | ForEach-Object Name)
    }
}

function Get-MountPointUnder {
    <# Mount points at or under $Root (from /proc/self/mountinfo), deepest first. #>
    param([Parameter(Mandatory)] [string] $Root)
    # mountinfo writes space, tab, newline and backslash as octal escapes: a mount at or under the
    # root holds the root written that way, so a table without it (the usual case) needs no parse.
    $text = [System.IO.File]::ReadAllText('/proc/self/mountinfo')
    $escaped = [regex]::Replace($Root, '[ \t\n\\]', { param($m) '\{0}' -f [Convert]::ToString([int][char] $m.Value, 8).PadLeft(3, '0') })
    if (-not $text.Contains($escaped)) { return @() }
    $points = foreach ($line in $text.Split("`n", [System.StringSplitOptions]::RemoveEmptyEntries)) {
        $raw = $line.Split(' ')[4]
        $point = [regex]::Replace($raw, '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
        if ($point -eq $Root -or $point.StartsWith("$Root/")) { $point }
    }
    @($points | Sort-Object -Property Length -Descending)
}

function Get-VirtiofsdLockFile {
    <# QEMU's C virtiofsd keeps a pid lock under /run/virtiofsd named after its socket path, '/' -> '.'. #>
    param([Parameter(Mandatory)] [string] $Root)
    $needle = $Root.Replace('/', '.')
    @(Get-ChildItem -LiteralPath $script:VirtiofsdRunDir -File -Force -ErrorAction SilentlyContinue |
            Where-Object { $_.Name.Contains($needle) } | ForEach-Object FullName)
}

function Get-TapHolderPid {
    <# Processes holding a TUN/TAP fd attached to $Device (fdinfo shows "iff: <name>"). #>
    param([Parameter(Mandatory)] [string] $Device)
    $holders = [System.Collections.Generic.HashSet[int]]::new()
    foreach ($info in Get-ChildItem -Path '/proc/[0-9]*/fdinfo/*' -ErrorAction SilentlyContinue) {
        try { $text = [System.IO.File]::ReadAllText($info.FullName) } catch { continue }
        if ($text -match "(?m)^iff:\s+$([regex]::Escape($Device))\s*$") { $null = $holders.Add([int]$info.FullName.Split('/')[2]) }
    }
    @($holders)
}

function Get-NetnsPid {
    <# Processes running inside network namespace $Name. #>
    param([Parameter(Mandatory)] [string] $Name)
    if (-not $script:IpExe) { return @() }
    @(& $script:IpExe netns pids $Name 2>$null | Where-Object { $_ -match '^\d+$' } | ForEach-Object { [int]$_ })
}

function Get-OtherTestSession {
    <#
    Live processes, outside this runner's own ancestry and this run's suites, that look like
    another test session on this host: their environment names MYHV_TEST_ROOT or MYHV_HOME, or
    their command line runs Pester, a *.Tests.ps1 file or a test runner. One line each.
    #>
    param([string] $RunId)
    $table = @(Get-ProcessTable)
    $protected = Get-ProtectedPid -Table $table
    foreach ($row in $table) {
        if ($protected.Contains($row.Pid) -or $row.State -eq 'Z') { continue }
        if ($RunId -and @($row.Markers | Where-Object { $_.StartsWith("$RunId.") })) { continue }
        $environ = try { [System.IO.File]::ReadAllText("/proc/$($row.Pid)/environ") } catch { '' }
        if ($environ -match '(?:^|\x00)MYHV_(?:TEST_ROOT|HOME)=' -or $row.CmdLine -match 'Invoke-Pester|Invoke-TestRun\.ps1|RunnerChild\.ps1|\.Tests\.ps1') {
            "$($row.Pid): $($row.CmdLine)"
        }
    }
}

function Invoke-NativeQuiet {
    <# Runs a program with an argument list; returns $true on exit code 0. Never throws. #>
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList)
    if (-not $FilePath) { return $false }
    & $FilePath @ArgumentList 2>$null | Out-Null
    $LASTEXITCODE -eq 0
}

function Invoke-LeakCensus {
    <#
    Finds what a finished suite left behind and removes it. Returns .Processes (leaked processes,
    "pid: command line"), .Leaks (other things found, one string each), .Problems (what could not be removed; the machine is not clean) and .Notes
    (new devices/namespaces that could be another test run's, left alone).
    #>
    param(
        [Parameter(Mandatory)] [string] $Token,
        [Parameter(Mandatory)] [int] $LeaderPid,
        [Parameter(Mandatory)] [string] $RootPath,
        $Baseline,                      # $null when other suites ran alongside: devices cannot be attributed
        [int[]] $Exclude = @(),
        [switch] $AdoptUnmarked,
        [string] $RunId
    )
    $leaks = [System.Collections.Generic.List[string]]::new()
    $problems = [System.Collections.Generic.List[string]]::new()

    # 1. Processes first: they may hold TAP fds, mounts and lock files.
    $stopped = Stop-SuiteProcess -Token $Token -LeaderPid $LeaderPid -RootPath $RootPath -Exclude $Exclude -AdoptUnmarked:$AdoptUnmarked
    $processes = [System.Collections.Generic.List[string]]::new()
    foreach ($p in $stopped.Found) { $processes.Add("$($p.Pid): $($p.CmdLine)") }
    foreach ($p in $stopped.Survivors) { $problems.Add("process $($p.Pid) survived SIGKILL: $($p.CmdLine)") }

    # 2. Mounts under the root, deepest first (lazy unmount: nothing may keep the root busy).
    foreach ($point in Get-MountPointUnder -Root $RootPath) {
        $leaks.Add("mount $point")
        if (-not (Invoke-NativeQuiet -FilePath $script:UmountExe -ArgumentList @('-l', '--', $point))) { $problems.Add("cannot unmount $point") }
    }

    # 3. virtiofsd lock files naming the root.
    foreach ($file in Get-VirtiofsdLockFile -Root $RootPath) {
        $leaks.Add("virtiofsd lock file $file")
        try { Remove-Item -LiteralPath $file -Force -ErrorAction Stop } catch { $problems.Add("cannot remove $file : $_") }
    }

    # 4. New mh* network devices and new network namespaces that nobody else can be using.
    #    (The suite's own processes are gone by now, so any holder or inhabitant is someone else's.)
    $notes = [System.Collections.Generic.List[string]]::new()
    if ($null -eq $Baseline) { return [pscustomobject]@{ Processes = @($processes); Leaks = @($leaks); Problems = @($problems); Notes = @($notes) } }
    $now = Get-HostNetSnapshot
    $unowned = @(
        foreach ($dev in @($now.Devices | Where-Object { $_ -notin $Baseline.Devices })) {
            if (-not @(Get-TapHolderPid -Device $dev)) { [pscustomobject]@{ Kind = 'network device'; Name = $dev; Delete = @('link', 'delete', 'dev', $dev) } }
        }
        foreach ($ns in @($now.Namespaces | Where-Object { $_ -notin $Baseline.Namespaces })) {
            if (-not @(Get-NetnsPid -Name $ns)) { [pscustomobject]@{ Kind = 'network namespace'; Name = $ns; Delete = @('netns', 'delete', $ns) } }
        })
    $others = if ($unowned) { @(Get-OtherTestSession -RunId $RunId) } else { @() }
    foreach ($item in $unowned) {
        if ($others) {
            $notes.Add("$($item.Kind) $($item.Name) appeared during this suite, but another test session is running on this host ($($others[0])), so it is not attributed to this suite and left alone")
            continue
        }
        $leaks.Add("$($item.Kind) $($item.Name)")
        if (-not (Invoke-NativeQuiet -FilePath $script:IpExe -ArgumentList $item.Delete)) { $problems.Add("cannot delete $($item.Kind) $($item.Name)") }
    }
    [pscustomobject]@{ Processes = @($processes); Leaks = @($leaks); Problems = @($problems); Notes = @($notes) }
}

function New-SuiteTempRoot {
    <#
    A fresh, short, private (0700) directory for one suite's MYHV_TEST_ROOT, made atomically
    (mkdir(2) of a random name). Short on purpose: unix socket paths under it must stay far below 108 bytes. Under a
    runner that is itself running as a suite, it nests inside that suite's root, so the outer
    runner's census also sees anything the inner run leaks.
    #>
    $base = if ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT -PathType Container) -and
        $env:MYHV_TEST_ROOT.Length -le 40) { $env:MYHV_TEST_ROOT } else { '/tmp' }
    # As mktemp -d does it, without starting a process: a random name, mkdir 0700, never an existing name.
    $alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
    for ($try = 0; $try -lt 100; $try++) {
        $dir = [System.IO.Path]::Join($base, 'mhT-' + [System.Security.Cryptography.RandomNumberGenerator]::GetString($alphabet, 6))
        if ([MyHvRunnerNative]::MakePrivateDirectory($dir)) { return $dir }
    }
    throw "could not create a private directory under $base"
}

function Remove-SuiteTempRoot {
    <#
    Deletes a suite's temp root, but never while anything is still mounted under it (a recursive
    delete would walk into the mounted file system). Returns a problem string, or $null.
    #>
    param([Parameter(Mandatory)] [string] $RootPath)
    if (-not (Test-Path -LiteralPath $RootPath)) { return $null }
    if (@(Get-MountPointUnder -Root $RootPath)) { return "left $RootPath in place: still mounted under it" }
    if (-not (Invoke-NativeQuiet -FilePath $script:RmExe -ArgumentList @('-rf', '--one-file-system', '--', $RootPath))) { return "cannot remove $RootPath" }
    $null
}
