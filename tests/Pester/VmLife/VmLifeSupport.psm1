<#
Helpers for the VM-life suites (Set-MyVm, Restart-MyVm, Suspend/Resume-MyVm): talk to a running
tiny guest through its serial line, read its console log from an offset, and speak QMP to its
hypervisor behind the module's back (to change reality without telling the record).

The tiny guest's init keeps a shell on the serial line once it is ready; what is typed is echoed,
and what the commands print lands in the console log (vms/<name>/console.log).
#>

Set-StrictMode -Version 3.0

function Get-MyHvConsoleLogPath {
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    Join-Path $HomePath "vms/$Name/console.log"
}

function Get-MyHvConsoleLength {
    <# The console log's size in bytes now (an offset for Wait-MyHvConsoleText). #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $log = Get-MyHvConsoleLogPath -HomePath $HomePath -Name $Name
    if (Test-Path -LiteralPath $log) { (Get-Item -LiteralPath $log).Length } else { 0 }
}

function Read-MyHvConsoleText {
    <# The console log's text from a byte offset on. #>
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
    <#
    .SYNOPSIS
        Types one line into the guest's serial shell through run/<name>/console.sock.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Line)
    $path = Join-Path $HomePath "run/$Name/console.sock"
    $socket = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
    try {
        $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($path))
        $null = $socket.Send([System.Text.Encoding]::ASCII.GetBytes("$Line`n"))
        # Give QEMU time to take the bytes before the connection closes.
        Start-Sleep -Milliseconds 300
    }
    finally { $socket.Dispose() }
}

function Invoke-MyHvGuestCommand {
    <#
    .SYNOPSIS
        Runs a shell command in the guest over the serial line and returns what it printed between two markers.
    #>
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
        Runs one QMP command on a VM's api.sock, bypassing the module; returns the reply's 'return'.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Command)
    $path = Join-Path $HomePath "run/$Name/api.sock"
    $socket = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
    try {
        $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($path))
        $socket.ReceiveTimeout = 10000
        $stream = [System.Net.Sockets.NetworkStream]::new($socket)
        $reader = [System.IO.StreamReader]::new($stream)
        $writer = [System.IO.StreamWriter]::new($stream)
        $writer.AutoFlush = $true
        $null = $reader.ReadLine()   # greeting
        $writer.WriteLine('{"execute":"qmp_capabilities"}')
        $writer.WriteLine("{`"execute`":`"$Command`",`"id`":`"t`"}")
        while ($true) {
            $message = $reader.ReadLine() | ConvertFrom-Json
            if ($message.PSObject.Properties['id'] -and $message.id -eq 't') {
                if ($message.PSObject.Properties['error']) { throw "QMP $Command failed: $($message.error.desc)" }
                return $message.return
            }
        }
    }
    finally { $socket.Dispose() }
}

function Get-MyHvCpuSeconds {
    <# utime + stime of a process from /proc/<pid>/stat, in seconds. #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
    $rest = $text.Substring($text.LastIndexOf(')') + 2).Split(' ')
    ([long] $rest[11] + [long] $rest[12]) / 100.0
}

Export-ModuleMember -Function Get-MyHvConsoleLogPath, Get-MyHvConsoleLength, Read-MyHvConsoleText, Wait-MyHvConsoleText,
    Send-MyHvConsoleLine, Invoke-MyHvGuestCommand, Invoke-MyHvQmp, Get-MyHvCpuSeconds
