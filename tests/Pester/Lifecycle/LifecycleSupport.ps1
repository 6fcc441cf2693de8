<#
Helpers shared by the suites in tests/Pester/Lifecycle. Dot-source from a BeforeAll:

    . (Join-Path $PSScriptRoot 'LifecycleSupport.ps1')

Dot-sourced (not a module) on purpose: Invoke-MyHvCapture runs the caller's script block, which
must see the caller's variables and preferences.
#>

Set-StrictMode -Version 3.0

function Invoke-MyHvCapture {
    <#
    .SYNOPSIS
        Runs a script block and separates what it wrote from its errors, terminating or not.
    .OUTPUTS
        [pscustomobject] Output (objects), Errors (ErrorRecords, in order), Terminated (a terminating error ended it).
    #>
    param([Parameter(Mandatory)] [scriptblock] $Script)
    $output = [System.Collections.Generic.List[object]]::new()
    $errors = [System.Collections.Generic.List[System.Management.Automation.ErrorRecord]]::new()
    $terminated = $false
    $ErrorActionPreference = 'Continue'
    try {
        # Streamed, so what came before a terminating error is kept.
        & $Script 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) { $errors.Add($_) } else { $output.Add($_) }
        }
    }
    catch {
        $errors.Add($_)
        $terminated = $true
    }
    [pscustomobject]@{ Output = $output.ToArray(); Errors = $errors.ToArray(); Terminated = $terminated }
}

function Get-MyHvTreeSnapshot {
    <#
    .SYNOPSIS
        Every file, folder and socket under one or more directories, one sorted line each, with file hashes.
    .DESCRIPTION
        Two snapshots compare equal only when nothing was created, deleted, replaced (inode) or
        changed (type, mode, size, SHA-256). Files named in -IdentityOnly (paths relative to a root)
        are compared by type, mode and inode alone: a running guest may write its disk or console at
        any moment. One `find` for all roots: process starts are what costs on a loaded machine.
    #>
    param(
        [Parameter(Mandatory)] [string[]] $Path,
        [string[]] $IdentityOnly = @()
    )
    if (-not (Test-Path -LiteralPath variable:script:MyHvFind)) {
        $script:MyHvFind = (Get-Command -Name find -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $script:MyHvSha256sum = (Get-Command -Name sha256sum -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    }
    $lines = [System.Collections.Generic.List[string]]::new()
    $roots = [System.Collections.Generic.List[string]]::new()
    foreach ($p in $Path) {
        $root = [System.IO.Path]::GetFullPath($p).TrimEnd('/')
        if (Test-Path -LiteralPath $root) { $roots.Add($root) } else { $lines.Add("$root <missing>") }
    }
    if ($roots.Count -gt 0) {
        # %H the root given, %y type (f d s l ...), %i inode, %m mode, %s size, %P path relative to the root.
        foreach ($entry in @(& $script:MyHvFind $roots -mindepth 1 -printf '%H %y %i %m %s %P\n')) {
            $root, $type, $inode, $mode, $size, $rel = $entry -split ' ', 6
            if ($type -eq 'f' -and $rel -notin $IdentityOnly) {
                $file = "$root/$rel"
                # A VM's lock file held by a command cannot be opened by .NET (flock): hash it with sha256sum.
                $hash = try { (Get-FileHash -LiteralPath $file -Algorithm SHA256 -ErrorAction Stop).Hash }
                catch { ((& $script:MyHvSha256sum -- $file) -split ' ')[0].ToUpperInvariant() }
                $lines.Add("$root/$rel type=$type inode=$inode mode=$mode size=$size sha256=$hash")
            }
            elseif ($type -eq 'f' -or $type -eq 'd') {
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
    <# The inode number of a path (stat -c %i), or $null when it does not exist. #>
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) { return $null }
    $stat = (Get-Command -Name stat -CommandType Application | Select-Object -First 1).Source
    [long] (& $stat -c '%i' -- $Path)
}

function Get-MyHvProcessStartTicks {
    <#
    Field 22 of /proc/<pid>/stat (start time in clock ticks), or $null when the process has exited:
    gone, or a zombie (state Z or X) that its new parent has not reaped yet.
    #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    try { $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return $null }
    # The command name (field 2) is in parentheses and may hold spaces: split after its ')'.
    $rest = $text.Substring($text.LastIndexOf(')') + 2).Split(' ')
    if ($rest[0] -in 'Z', 'X', 'x') { return $null }
    [long] $rest[19]
}

function Get-MyHvProcessByMarker {
    <# Processes whose command line contains the text (e.g. a VM's runtime folder), as pid + command line. #>
    param([Parameter(Mandatory)] [string] $Marker)
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline").Replace([char] 0, ' ').TrimEnd() } catch { continue }
        if ($cmd.Contains($Marker)) { [pscustomobject]@{ Pid = $procId; CommandLine = $cmd } }
    }
}
