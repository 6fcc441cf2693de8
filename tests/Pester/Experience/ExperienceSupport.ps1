# Shared by the Experience suites (dot-source from BeforeAll, after TestHelpers.psm1 is imported).

# Generous: TCG boots take ~3 s alone and several times that when other suites boot VMs too.
$script:BootTimeout = 180

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

function Invoke-MyHvCaptured {
    <#
    .SYNOPSIS
        Runs a script in a fresh runspace of this process with the module imported, and returns
        its output and every stream (Progress, Verbose, Error, Warning) as the cmdlets wrote them.
    .DESCRIPTION
        Progress records cannot be redirected in a script; a PowerShell instance's Streams.Progress
        receives them exactly as a host would. The environment (MYHV_HOME etc.) is the process's.
    #>
    param([Parameter(Mandatory)] [string] $Script, [hashtable] $Arguments = @{})
    $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
    $ps = [powershell]::Create()
    try {
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', $manifest).AddParameter('ErrorAction', 'Stop').AddStatement()
        $null = $ps.AddScript($Script)
        foreach ($key in $Arguments.Keys) { $null = $ps.AddParameter($key, $Arguments[$key]) }
        $output = $ps.Invoke()
        [pscustomobject]@{
            Output   = @($output)
            Progress = @($ps.Streams.Progress)
            Verbose  = @($ps.Streams.Verbose | ForEach-Object Message)
            Error    = @($ps.Streams.Error)
            Warning  = @($ps.Streams.Warning | ForEach-Object Message)
        }
    }
    finally { $ps.Dispose() }
}

function Format-MyHvBytes {
    # The test's own statement of the human units the views promise (independent of HumanUnits.cs):
    # binary units, one decimal below 10, none from 10 up; plain bytes below 1 KiB.
    param([long] $Bytes)
    if ($Bytes -lt 1024) { return "$Bytes B" }
    $units = 'KiB', 'MiB', 'GiB', 'TiB'
    $value = [double] $Bytes
    $i = -1
    while ($value -ge 1024 -and $i -lt $units.Count - 1) { $value /= 1024; $i++ }
    $format = if ($value -lt 10) { '0.0' } else { '0' }
    $value.ToString($format, [cultureinfo]::InvariantCulture) + ' ' + $units[$i]
}

function Wait-MyHvStatus {
    # Polls Get-MyVm until the VM has the status (the lifecycle is asynchronous only inside jobs).
    param([string] $Name, [string] $Status, [int] $TimeoutSeconds = 60)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    do {
        $vm = Get-MyVm -Name $Name -ErrorAction Stop
        if ("$($vm.Status)" -eq $Status) { return $vm }
        Start-Sleep -Milliseconds 200
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "VM '$Name' did not reach status $Status within $TimeoutSeconds s (it is $($vm.Status))"
}

function Remove-MyHvTestVms {
    # AfterAll: every VM of the home goes, running or not; then the census.
    param([string] $HomePath)
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-Job -ErrorAction Ignore | Where-Object PSJobTypeName -EQ 'MyVmJob' | ForEach-Object {
            $null = Wait-Job -Job $_ -Timeout 120; Remove-Job -Job $_ -Force
        }
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    Assert-MyHvNoLeftovers -Home $HomePath
}

function Invoke-MyHvChildPwsh {
    <#
    .SYNOPSIS
        Runs a command in a child pwsh (Start-MyHvPwsh) with this process's environment and current
        folder. Returns its output lines (stdout, then stderr) and sets $LASTEXITCODE.
    #>
    param([Parameter(Mandatory)] [string] $Command)
    $child = Start-MyHvPwsh -Command $Command -WorkingDirectory (Get-Location -PSProvider FileSystem).ProviderPath
    $done = Wait-MyHvPwsh -Process $child -TimeoutSeconds 300
    $global:LASTEXITCODE = $done.ExitCode
    @(($done.Stdout + $done.Stderr) -split '\r?\n' | Where-Object { $_ -ne '' })
}
