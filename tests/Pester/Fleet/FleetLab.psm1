<#
A lab of VM hosts on this machine for the fleet suites: network namespaces made here, joined by a
bridge in a namespace of their own, each running its own sshd (Debian openssh-server, with a
config and host key written here and `Subsystem powershell` pointing at this pwsh) and its own
MYHV_HOME, set by the subsystem's environment. The root namespace reaches the bridge through one
veth pair on a private /24 chosen per lab. Remove-FleetLab stops and deletes all of it.
#>

Set-StrictMode -Version 3.0

function Invoke-LabNative {
    # Runs a program with an argument list (never a shell string); a failure throws with its output.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @(), [switch] $AllowFailure)
    $output = & $FilePath @ArgumentList 2>&1
    if ($LASTEXITCODE -ne 0 -and -not $AllowFailure) { throw "$FilePath $($ArgumentList -join ' ') failed ($LASTEXITCODE): $($output -join ' ')" }
    $output
}

function Get-LabChildPid {
    # Every descendant of a process, from /proc (children first found, deepest last).
    param([Parameter(Mandatory)] [int] $ParentId)
    $parents = @{}
    foreach ($dir in [IO.Directory]::GetDirectories('/proc')) {
        $name = [IO.Path]::GetFileName($dir)
        if ($name -notmatch '^\d+$') { continue }
        try { $stat = [IO.File]::ReadAllText("$dir/stat") } catch { continue }
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $parents[[int]$name] = [int]$fields[1]
    }
    $found = [Collections.Generic.List[int]]::new()
    $queue = [Collections.Generic.Queue[int]]::new(); $queue.Enqueue($ParentId)
    while ($queue.Count) {
        $p = $queue.Dequeue()
        foreach ($child in @($parents.Keys | Where-Object { $parents[$_] -eq $p })) { $found.Add($child); $queue.Enqueue($child) }
    }
    $found
}

function New-FleetLab {
    <#
    .SYNOPSIS
        Makes -Count hosts; returns the lab object (Hosts with Name, Address, Home, Namespace; key, known_hosts).
    #>
    param(
        [Parameter(Mandatory)] [string] $Root,
        [int] $Count = 3,
        [Parameter(Mandatory)] [string] $ModuleRoot
    )
    $ip = (Get-Command ip -CommandType Application -ErrorAction Stop)[0].Source
    $tag = '{0:x4}' -f (Get-Random -Maximum 65535)
    $net = "10.213.$(Get-Random -Minimum 20 -Maximum 250)"
    $lab = [pscustomobject]@{
        Tag = $tag; Net = $net; Root = $Root; Ip = $ip; Bridge = "mhfl$tag-br"; Hosts = [Collections.Generic.List[object]]::new()
        RootVeth = "fl$($tag)r"; KeyFile = Join-Path $Root 'client_key'; KnownHosts = Join-Path $Root 'known_hosts'; MadeRunSshd = $false
        Namespaces = [Collections.Generic.List[string]]::new()
    }
    if (-not (Test-Path /run/sshd)) { $null = New-Item -ItemType Directory /run/sshd; $lab.MadeRunSshd = $true }
    Invoke-LabNative $ip @('netns', 'add', $lab.Bridge) | Out-Null
    $lab.Namespaces.Add($lab.Bridge)
    Invoke-LabNative $ip @('-n', $lab.Bridge, 'link', 'add', 'br0', 'type', 'bridge') | Out-Null
    Invoke-LabNative $ip @('-n', $lab.Bridge, 'link', 'set', 'br0', 'up') | Out-Null
    # The root namespace's way in: one veth pair, the peer on the bridge.
    Invoke-LabNative $ip @('link', 'add', $lab.RootVeth, 'type', 'veth', 'peer', 'name', "fl$($tag)b", 'netns', $lab.Bridge) | Out-Null
    Invoke-LabNative $ip @('-n', $lab.Bridge, 'link', 'set', "fl$($tag)b", 'master', 'br0', 'up') | Out-Null
    Invoke-LabNative $ip @('addr', 'add', "$net.1/24", 'dev', $lab.RootVeth) | Out-Null
    Invoke-LabNative $ip @('link', 'set', $lab.RootVeth, 'up') | Out-Null

    Invoke-LabNative ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-f', $lab.KeyFile) | Out-Null
    $dotnet = (Get-Process -Id $PID).Path
    $pwshDll = Join-Path $PSHOME 'pwsh.dll'
    $known = [Collections.Generic.List[string]]::new()
    for ($i = 1; $i -le $Count; $i++) {
        $name = "h$i"; $ns = "mhfl$tag-$name"; $address = "$net.$(10 + $i)"
        $dir = Join-Path $Root $name
        $home_ = Join-Path $dir 'home'
        $null = New-Item -ItemType Directory -Path $home_ -Force
        & chmod 700 $dir $home_
        Invoke-LabNative $ip @('netns', 'add', $ns) | Out-Null
        $lab.Namespaces.Add($ns)
        Invoke-LabNative $ip @('-n', $lab.Bridge, 'link', 'add', "fl$tag$i", 'type', 'veth', 'peer', 'name', 'eth0', 'netns', $ns) | Out-Null
        Invoke-LabNative $ip @('-n', $lab.Bridge, 'link', 'set', "fl$tag$i", 'master', 'br0', 'up') | Out-Null
        Invoke-LabNative $ip @('-n', $ns, 'addr', 'add', "$address/24", 'dev', 'eth0') | Out-Null
        Invoke-LabNative $ip @('-n', $ns, 'link', 'set', 'eth0', 'up') | Out-Null
        Invoke-LabNative $ip @('-n', $ns, 'link', 'set', 'lo', 'up') | Out-Null
        Invoke-LabNative ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-f', (Join-Path $dir 'host_key')) | Out-Null
        Copy-Item "$($lab.KeyFile).pub" (Join-Path $dir 'authorized_keys')
        Set-Content -LiteralPath (Join-Path $dir 'module-path') -Value $ModuleRoot -NoNewline
        # The subsystem's environment gives the host its own state home; the module comes from
        # the folder named in module-path (read at each session start, so a test can swap it).
        $subsystem = Join-Path $dir 'pwsh-subsystem'
        Set-Content -LiteralPath $subsystem -Value @"
#!/bin/sh
export MYHV_HOME='$home_'
export MYHV_ACCEL=tcg
export PSModulePath="`$(cat '$dir/module-path')"
exec '$dotnet' '$pwshDll' -sshs -NoLogo -NoProfile
"@
        & chmod 700 $subsystem
        Set-Content -LiteralPath (Join-Path $dir 'sshd_config') -Value @"
ListenAddress $address
Port 22
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem powershell $subsystem
"@
        $known.Add("$address $((Get-Content -Raw (Join-Path $dir 'host_key.pub')).Trim())")
        $lab.Hosts.Add([pscustomobject]@{ Name = $name; Namespace = $ns; Address = $address; Dir = $dir; Home = $home_; Sshd = $null })
    }
    Set-Content -LiteralPath $lab.KnownHosts -Value $known
    foreach ($h in $lab.Hosts) { Start-FleetSshd -Lab $lab -Name $h.Name }
    $lab
}

function Start-FleetSshd {
    # sshd in the host's namespace, in the foreground (-D) as this process's child; returns once it listens.
    param([Parameter(Mandatory)] $Lab, [Parameter(Mandatory)] [string] $Name)
    $h = $Lab.Hosts | Where-Object Name -EQ $Name
    $start = [Diagnostics.ProcessStartInfo]::new($Lab.Ip)
    foreach ($a in @('netns', 'exec', $h.Namespace, '/usr/sbin/sshd', '-D', '-e', '-f', (Join-Path $h.Dir 'sshd_config'), '-E', (Join-Path $h.Dir 'sshd.log'))) { $start.ArgumentList.Add($a) }
    $start.UseShellExecute = $false
    $h.Sshd = [Diagnostics.Process]::Start($start)
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ([DateTime]::UtcNow -lt $deadline) {
        $client = [Net.Sockets.TcpClient]::new()
        try { $client.Connect($h.Address, 22); return } catch { Start-Sleep -Milliseconds 100 } finally { $client.Dispose() }
        if ($h.Sshd.HasExited) { throw "sshd of $Name exited: $(Get-Content -Raw (Join-Path $h.Dir 'sshd.log'))" }
    }
    throw "sshd of $Name did not listen on $($h.Address):22"
}

function Stop-FleetSshd {
    # Kills the host's sshd and everything under it (its connections and their pwsh): the host is down.
    param([Parameter(Mandatory)] $Lab, [Parameter(Mandatory)] [string] $Name)
    $h = $Lab.Hosts | Where-Object Name -EQ $Name
    if (-not $h.Sshd -or $h.Sshd.HasExited) { return }
    $all = @($h.Sshd.Id) + @(Get-LabChildPid -ParentId $h.Sshd.Id)
    foreach ($p in $all) { & kill -KILL $p 2>$null }
    $h.Sshd.WaitForExit(10000) | Out-Null
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ([DateTime]::UtcNow -lt $deadline -and @($all | Where-Object { Test-Path "/proc/$_" -PathType Container } | Where-Object {
                (Get-Content -Raw "/proc/$_/stat" -ErrorAction Ignore) -notmatch '\) Z '
            }).Count) { Start-Sleep -Milliseconds 100 }
}

function Remove-FleetLab {
    param([Parameter(Mandatory)] $Lab)
    foreach ($h in $Lab.Hosts) { Stop-FleetSshd -Lab $Lab -Name $h.Name }
    # Any process still in a namespace of the lab (a VM left by a failed test) is ended first.
    foreach ($ns in $Lab.Namespaces) {
        foreach ($p in @(Invoke-LabNative $Lab.Ip @('netns', 'pids', $ns) -AllowFailure | Where-Object { $_ -match '^\d+$' })) { & kill -KILL $p 2>$null }
    }
    Invoke-LabNative $Lab.Ip @('link', 'del', $Lab.RootVeth) -AllowFailure | Out-Null
    foreach ($ns in $Lab.Namespaces) { Invoke-LabNative $Lab.Ip @('netns', 'del', $ns) -AllowFailure | Out-Null }
    if ($Lab.MadeRunSshd) { Remove-Item -LiteralPath /run/sshd -Force -ErrorAction Ignore }
}

Export-ModuleMember -Function New-FleetLab, Start-FleetSshd, Stop-FleetSshd, Remove-FleetLab, Get-LabChildPid
