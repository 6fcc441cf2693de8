# Part of MyHvTestKit.psm1: reaching a running guest behind the module's back. The guest-agent image
# check, the tiny guest's serial shell and console log, QMP on the hypervisor's API socket, and ssh.

function Get-MyHvGuestImage {
    <#
    .SYNOPSIS
        The 'tiny' image folder the module resolves (MYHV_IMAGE_PATH first); throws unless it carries the guest agent.
    #>
    [CmdletBinding()]
    param()
    $folders = @(($env:MYHV_IMAGE_PATH -split ':') | Where-Object { $_ }) +
        @((Join-Path ([Environment]::GetFolderPath('UserProfile')) '.local/share/myhypervisor/images'))
    foreach ($root in $folders) {
        $manifest = Join-Path $root 'tiny/image.json'
        if (-not (Test-Path -LiteralPath $manifest)) { continue }
        $image = Get-Content -Raw -LiteralPath $manifest | ConvertFrom-Json
        if (-not ($image.PSObject.Properties.Name -contains 'GuestAgent' -and $image.GuestAgent)) {
            throw "The tiny image at $(Split-Path $manifest) has no guest agent (image.json GuestAgent): rebuild it with ./build.ps1 -Task Bootstrap"
        }
        return Split-Path $manifest
    }
    throw 'No tiny image found: run ./build.ps1 -Task Bootstrap'
}

function New-MyHvAgentlessImage {
    <#
    .SYNOPSIS
        Makes a copy of an image folder under -Parent whose image.json says it has no guest agent
        (kernel, initrd and disk copied: the same guest). Returns the new folder.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Image, [Parameter(Mandatory)] [string] $Parent)
    $target = Join-Path $Parent 'noagent'
    $null = New-Item -ItemType Directory -Path $target
    foreach ($file in 'vmlinuz', 'initrd.img', 'rootfs.ext4') {
        Copy-Item -LiteralPath (Join-Path $Image $file) -Destination (Join-Path $target $file)
    }
    $manifest = Get-Content -Raw -LiteralPath (Join-Path $Image 'image.json') | ConvertFrom-Json
    $manifest.Name = 'noagent'
    $manifest.GuestAgent = $false
    $manifest | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $target 'image.json')
    $target
}

function Get-MyHvConsoleLogPath {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    (Get-MyHvVmPath -HomePath $HomePath -Name $Name).Console
}

function Get-MyHvConsoleLength {
    <# The console log's size in bytes now (an offset for Wait-MyHvConsoleText). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $log = Get-MyHvConsoleLogPath -HomePath $HomePath -Name $Name
    if (Test-Path -LiteralPath $log) { (Get-Item -LiteralPath $log).Length } else { 0 }
}

function Read-MyHvConsoleText {
    <# The console log's text from a byte offset on. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [long] $Offset = 0)
    $log = Get-MyHvConsoleLogPath -HomePath $HomePath -Name $Name
    if (-not (Test-Path -LiteralPath $log)) { return '' }
    $stream = [System.IO.FileStream]::new($log, 'Open', 'Read', 'ReadWrite, Delete')
    try {
        if ($stream.Length -ge $Offset) { $null = $stream.Seek($Offset, 'Begin') }
        $reader = [System.IO.StreamReader]::new($stream)
        $reader.ReadToEnd().Replace("`r", '')
    }
    finally { $stream.Dispose() }
}

function Wait-MyHvConsoleText {
    <#
    .SYNOPSIS
        Waits until the console log holds a line matching -Pattern after -Offset; returns the match's first group (or the line).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Pattern, [long] $Offset = 0, [int] $TimeoutSeconds = 60
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $text = Read-MyHvConsoleText -HomePath $HomePath -Name $Name -Offset $Offset
        $m = [regex]::Match($text, "(?m)$Pattern")
        if ($m.Success) { if ($m.Groups.Count -gt 1) { return $m.Groups[1].Value } else { return $m.Value } }
        if ([DateTime]::UtcNow -ge $deadline) {
            throw ("The console of '$Name' showed no line matching '$Pattern' within $TimeoutSeconds s (a tiny image built before its init " +
                "printed cpus/memtotal and kept a serial shell lacks these: ./build.ps1 -Task Bootstrap rebuilds it). It reads after offset ${Offset}:`n$text")
        }
        Start-Sleep -Milliseconds 200
    }
}

function Send-MyHvConsoleLine {
    <# Types one line into the guest's serial shell through run/<name>/console.sock. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Line)
    $socket = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
    try {
        $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new((Get-MyHvVmPath -HomePath $HomePath -Name $Name).ConsoleSocket))
        $null = $socket.Send([System.Text.Encoding]::ASCII.GetBytes("$Line`n"))
        # Give QEMU time to take the bytes before the connection closes.
        Start-Sleep -Milliseconds 300
    }
    finally { $socket.Dispose() }
}

function Invoke-MyHvGuestCommand {
    <# Runs a shell command in the guest over the serial line and returns what it printed between two markers. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Command, [int] $TimeoutSeconds = 60
    )
    $tag = [guid]::NewGuid().ToString('n').Substring(0, 8)
    $offset = Get-MyHvConsoleLength -HomePath $HomePath -Name $Name
    # The markers are built by the guest's shell ($((...))), so the echo of the typed line cannot match them.
    Send-MyHvConsoleLine -HomePath $HomePath -Name $Name -Line "echo B$tag`$((1+1)); $Command; echo E$tag`$((1+1))"
    $null = Wait-MyHvConsoleText -HomePath $HomePath -Name $Name -Pattern "^E${tag}2$" -Offset $offset -TimeoutSeconds $TimeoutSeconds
    $text = Read-MyHvConsoleText -HomePath $HomePath -Name $Name -Offset $offset
    $m = [regex]::Match($text, "(?ms)^B${tag}2\n(.*?)^E${tag}2$")
    $m.Groups[1].Value.TrimEnd("`n")
}

function Invoke-MyHvQmp {
    <#
    .SYNOPSIS
        Runs one QMP command on a hypervisor's API socket, bypassing the module.
    .DESCRIPTION
        The socket is a VM's run/<name>/api.sock (-HomePath, -Name) or any -Socket. Returns the reply's
        'return' (throws on a QMP error); with -Raw the reply line as QEMU wrote it, or $null when QEMU
        closed the connection first (as 'quit' may).
    #>
    [CmdletBinding(DefaultParameterSetName = 'Vm')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Vm')] [string] $HomePath,
        [Parameter(Mandatory, ParameterSetName = 'Vm')] [string] $Name,
        [Parameter(Mandatory, ParameterSetName = 'Socket')] [string] $Socket,
        [Parameter(Mandatory)] [string] $Command,
        [switch] $Raw
    )
    if ($PSCmdlet.ParameterSetName -eq 'Vm') { $Socket = (Get-MyHvVmPath -HomePath $HomePath -Name $Name).ApiSocket }
    $sock = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
    try {
        $sock.ReceiveTimeout = 15000
        $sock.SendTimeout = 15000
        $sock.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($Socket))
        $stream = [System.Net.Sockets.NetworkStream]::new($sock, $false)
        $reader = [System.IO.StreamReader]::new($stream)
        $writer = [System.IO.StreamWriter]::new($stream)
        $writer.AutoFlush = $true
        $greeting = $reader.ReadLine()
        if ($greeting -notmatch '"QMP"') { throw "no QMP greeting on $Socket (got '$greeting')" }
        $writer.WriteLine('{"execute":"qmp_capabilities"}')
        $reply = $reader.ReadLine()
        if ($reply -notmatch '"return"') { throw "qmp_capabilities failed: $reply" }
        $writer.WriteLine((@{ execute = $Command; id = 't' } | ConvertTo-Json -Compress))
        while ($true) {
            $line = $reader.ReadLine()
            if ($null -eq $line) {
                if ($Raw) { return $null }
                throw "QEMU closed $Socket before it answered $Command"
            }
            $message = $line | ConvertFrom-Json
            if (-not ($message.PSObject.Properties['id'] -and $message.id -eq 't')) { continue }   # events
            if ($Raw) { return $line }
            if ($message.PSObject.Properties['error']) { throw "QMP $Command failed: $($message.error.desc)" }
            return $message.return
        }
    }
    finally { $sock.Dispose() }
}

function Invoke-MyHvSsh {
    <# Runs $Command in a guest over ssh with the test's key; returns Exit and Out (lines). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $KeyFile,
        [Parameter(Mandatory)] [string] $HostAddress,
        [int] $Port = 22,
        [Parameter(Mandatory)] [string] $Command
    )
    $out = & ssh -i $KeyFile -p $Port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR `
        -o BatchMode=yes -o ConnectTimeout=30 "root@$HostAddress" $Command 2>&1
    [pscustomobject]@{ Exit = $LASTEXITCODE; Out = @($out | ForEach-Object { "$_" }) }
}
