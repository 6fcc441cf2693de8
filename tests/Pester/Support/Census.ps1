# Part of MyHvTestKit.psm1: the leak census and the probes of reality it is built from (/proc, /sys,
# the file system; never the module's own records), so a suite checks what the module claims
# against what is really there.

function Get-MyHvNetDeviceName {
    <#
    .SYNOPSIS
        Names of network devices (TAP included) whose name starts with 'mh', in this network namespace.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param()
    @(Get-ChildItem -LiteralPath '/sys/class/net' -ErrorAction SilentlyContinue | Where-Object Name -Like 'mh*' | ForEach-Object Name)
}

function Test-PathIsUnder {
    # True when $Candidate is $Root or lies below it (a longer sibling name is not below it).
    param([string] $Candidate, [string] $Root)
    $Candidate -eq $Root -or $Candidate.StartsWith("$Root/")
}

function Get-MyHvLeftover {
    <#
    .SYNOPSIS
        What still exists of a test home: one line per leftover (empty when clean).
    .DESCRIPTION
        Processes whose command line names the home, socket files and bound unix sockets under it,
        mounts under it, virtiofsd lock files under /run/virtiofsd naming it ('/' written as '.'),
        and mh* network devices that did not exist when New-MyHvTestHome made it.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param([Parameter(Mandatory)] [Alias('Home')] [string] $HomePath)
    $HomePath = $HomePath.TrimEnd('/')
    $pattern = '(?:^|[\s=:,''"])' + [regex]::Escape($HomePath) + '(?:$|[/\s,:''"])'
    $found = [System.Collections.Generic.List[string]]::new()

    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd() } catch { continue }
        if ($cmd -match $pattern) { $found.Add("process $procId : $cmd") }
    }
    foreach ($socket in Get-MyHvSocketFile -Path $HomePath) { $found.Add("socket file $socket") }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/net/unix') | Select-Object -Skip 1) {
        $fields = $line -split '\s+', 8
        if ($fields.Count -ge 8 -and (Test-PathIsUnder -Candidate $fields[7] -Root $HomePath)) { $found.Add("bound unix socket $($fields[7])") }
    }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $point = [regex]::Replace($line.Split(' ')[4], '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
        if (Test-PathIsUnder -Candidate $point -Root $HomePath) { $found.Add("mount $point") }
    }
    foreach ($lock in Get-MyHvVirtiofsdLockFile -HomePath $HomePath) { $found.Add("virtiofsd lock file $lock") }
    $before = if ($script:TapBaseline.ContainsKey($HomePath)) { $script:TapBaseline[$HomePath] } else { @() }
    foreach ($dev in Get-MyHvNetDeviceName) { if ($dev -notin $before) { $found.Add("network device $dev") } }
    $found.ToArray()
}

function Assert-MyHvNoLeftovers {
    <#
    .SYNOPSIS
        Throws, listing them, when anything of a test home is left: processes naming it, sockets,
        mounts, virtiofsd lock files, new mh* network devices (see Get-MyHvLeftover).
    .EXAMPLE
        AfterAll { Assert-MyHvNoLeftovers -Home $script:testHome }
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [Alias('Home')] [string] $HomePath)
    $leftovers = @(Get-MyHvLeftover -HomePath $HomePath)
    if ($leftovers.Count) {
        throw "Leftovers of test home ${HomePath}:`n  " + ($leftovers -join "`n  ")
    }
}

function Get-MyHvProcess {
    <#
    .SYNOPSIS
        Processes whose command line contains -Text, from /proc: Pid, ParentPid, Name (file name of the
        command line's first word), Program (file name of /proc/<pid>/exe, '?' when unreadable), CommandLine.
    .PARAMETER Name
        Only processes whose command line's first word has this file name (e.g. 'virtiofsd').
    .PARAMETER IncludeZombie
        Also list zombies (state Z or X), which are left out by default.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [Alias('Needle', 'Marker')] [string] $Text, [string] $Name, [switch] $IncludeZombie)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try {
            $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd()
            if (-not $cmd.Contains($Text)) { continue }
            $stat = [System.IO.File]::ReadAllText("$dir/stat")
        }
        catch { continue }   # the process ended while we looked
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        if (-not $IncludeZombie -and $fields[0] -in 'Z', 'X') { continue }
        $first = [System.IO.Path]::GetFileName(($cmd -split ' ')[0])
        if ($Name -and $first -ne $Name) { continue }
        $exe = try { [System.IO.Path]::GetFileName((Get-Item -LiteralPath "$dir/exe" -Force -ErrorAction Stop).Target) } catch { '?' }
        [pscustomobject]@{ Pid = $procId; ParentPid = [int] $fields[1]; Name = $first; Program = $exe; CommandLine = $cmd }
    }
}

function Test-MyHvProcessAlive {
    <#
    .SYNOPSIS
        True while the pid exists and is not a zombie whose threads have all exited.
    .DESCRIPTION
        A thread-group leader turns 'Z' when its own thread exits, while the process's other
        threads (of a SIGKILLed QEMU, say) may still be tearing down and holding its sockets:
        only when no other thread is left is the process really gone.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId)
    try {
        $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
        if ($stat.Substring($stat.LastIndexOf(')') + 2, 1) -notin 'Z', 'X') { return $true }
        @([System.IO.Directory]::GetDirectories("/proc/$ProcessId/task")).Count -gt 1
    }
    catch { $false }
}

function Get-MyHvProcessStartTicks {
    <#
    .SYNOPSIS
        Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or $null when the process has
        exited: gone, or a zombie (state Z or X) that its parent has not reaped yet.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId)
    try { $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return $null }
    # The command name (field 2) is in parentheses and may hold spaces: split after its ')'.
    $rest = $text.Substring($text.LastIndexOf(')') + 2).Split(' ')
    if ($rest[0] -in 'Z', 'X', 'x') { return $null }
    [long] $rest[19]
}

function Get-MyHvCpuSeconds {
    <# utime + stime of a process from /proc/<pid>/stat, in seconds. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId)
    $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
    $rest = $text.Substring($text.LastIndexOf(')') + 2).Split(' ')
    ([long] $rest[11] + [long] $rest[12]) / 100.0
}

function Stop-MyHvProcess {
    <# SIGKILL, then waits until the pid is gone or a zombie. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId, [int] $TimeoutSeconds = 30)
    & /bin/kill -KILL $ProcessId 2>$null
    Wait-MyHvCondition -TimeoutSeconds $TimeoutSeconds -Because "pid $ProcessId to die after SIGKILL" -Condition {
        -not (Test-MyHvProcessAlive -ProcessId $ProcessId)
    }.GetNewClosure()
}

function Get-MyHvVirtiofsd {
    <#
    .SYNOPSIS
        The virtiofsd processes serving a socket path (QEMU's C daemon runs as a parent and a sandboxed child).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $SocketPath)
    @(Get-MyHvProcess -Text "--socket-path=$SocketPath" -Name 'virtiofsd')
}

function Get-MyHvVirtiofsdLockFile {
    <# virtiofsd pid lock files under /run/virtiofsd that belong to a home ('/' written as '.'). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [Alias('Home')] [string] $HomePath)
    $needle = $HomePath.TrimEnd('/').Replace('/', '.')
    @(Get-ChildItem -LiteralPath '/run/virtiofsd' -File -Force -ErrorAction SilentlyContinue |
            Where-Object { $_.Name.Contains($needle) } | ForEach-Object FullName)
}

function Get-MyHvSocketFile {
    <# Socket files below a folder (recursively); none when it does not exist. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) { return @() }
    $find = (Get-Command -Name find -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    @(& $find $Path -type s 2>$null)
}

function Get-MyHvFileIdentity {
    <# Inode and hard-link count of a path (stat -c), or $null when it does not exist. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) { return $null }
    $stat = (Get-Command -Name stat -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $fields = (& $stat -c '%i %h' -- $Path).Split(' ')
    [pscustomobject]@{ Inode = [uint64] $fields[0]; Links = [int] $fields[1] }
}

function Get-MyHvTreeSnapshot {
    <#
    .SYNOPSIS
        Every file, folder and socket under one or more directories, one sorted line each, with file hashes.
    .DESCRIPTION
        Two snapshots compare equal only when nothing was created, deleted, replaced (inode) or
        changed (type, mode, size, SHA-256).
        Files named in -IdentityOnly (paths relative to a root) are compared by type, mode and inode
        alone: a running guest may write its disk or console at any moment. One `find` for all roots:
        process starts are what costs on a loaded machine.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string[]] $Path,
        [string[]] $IdentityOnly = @()
    )
    $find = (Get-Command -Name find -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $lines = [System.Collections.Generic.List[string]]::new()
    $roots = [System.Collections.Generic.List[string]]::new()
    foreach ($p in $Path) {
        $root = [System.IO.Path]::GetFullPath($p).TrimEnd('/')
        if (Test-Path -LiteralPath $root) { $roots.Add($root) } else { $lines.Add("$root <missing>") }
    }
    if ($roots.Count -gt 0) {
        # %H the root given, %y type (f d s l ...), %i inode, %m mode, %s size, %P path relative to the root.
        foreach ($entry in @(& $find $roots -mindepth 1 -printf '%H %y %i %m %s %P\n')) {
            $root, $type, $inode, $mode, $size, $rel = $entry -split ' ', 6
            if ($rel -in $IdentityOnly) {
                $lines.Add("$root/$rel type=$type inode=$inode mode=$mode")
            }
            elseif ($type -eq 'f') {
                $file = "$root/$rel"
                # A VM's lock file held by a command cannot be opened by .NET (flock): hash it with sha256sum.
                $hash = try { (Get-FileHash -LiteralPath $file -Algorithm SHA256 -ErrorAction Stop).Hash }
                catch { ((& sha256sum -- $file) -split ' ')[0].ToUpperInvariant() }
                $lines.Add("$root/$rel type=$type inode=$inode mode=$mode size=$size sha256=$hash")
            }
            elseif ($type -eq 'd') {
                # Folders change size as entries come and go; their entries are listed on their own.
                $lines.Add("$root/$rel type=$type inode=$inode mode=$mode")
            }
            else {
                $lines.Add("$root/$rel type=$type inode=$inode")
            }
        }
    }
    , @($lines | Sort-Object)
}

function Get-MyHvInode {
    <# The inode number of a path, or $null when it does not exist. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $identity = Get-MyHvFileIdentity -Path $Path
    if ($identity) { [long] $identity.Inode }
}

function Get-MyHvHomeSnapshot {
    <#
    .SYNOPSIS
        Every entry under a home, one line each: relative path, type, inode, mode, size, mtime (ns), SHA-256.
    .DESCRIPTION
        find(1) lists every entry (dot files, sockets, empty folders included) with its mtime in
        nanoseconds; regular files are hashed. -Volatile names files (relative paths) whose content a
        running guest may change by itself (its console log, its disk): for those only path, type and
        inode are kept, so a file replaced or deleted still shows, but the guest's own writes do not.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path, [string[]] $Volatile = @())
    $find = (Get-Command -Name find -CommandType Application | Select-Object -First 1).Source
    $lines = & $find $Path -mindepth 1 -printf '%P|%y|%i|%m|%s|%T@\n'
    if ($LASTEXITCODE -ne 0) { throw "find $Path failed" }
    foreach ($line in @($lines | Sort-Object)) {
        $fields = $line.Split('|')
        $relative, $type = $fields[0], $fields[1]
        if ($relative -in $Volatile) { "$relative|$type|$($fields[2])|volatile"; continue }
        $hash = if ($type -eq 'f') { (Get-FileHash -LiteralPath (Join-Path $Path $relative) -Algorithm SHA256).Hash } else { '-' }
        "$line|$hash"
    }
}
