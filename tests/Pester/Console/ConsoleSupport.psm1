# A real terminal for Connect-MyVmConsole: a private tmux server (its own socket), one pane that
# runs pwsh with the built module; keys go in with send-keys, the screen comes back with
# capture-pane, and the pane's terminal settings are read from outside with stty -F.
$ErrorActionPreference = 'Stop'

function New-ConTerminal {
    <# Starts a tmux server on its own socket with one pane running pwsh (MYHV_HOME set); returns a handle. #>
    param([Parameter(Mandatory)] [string] $WorkDir, [Parameter(Mandatory)] [string] $HomePath)
    $socket = Join-Path $WorkDir 'tmux.sock'
    $pwsh = [string[]] (Get-MyHvPwshLaunchPrefix)
    $terminal = [pscustomobject]@{ Socket = $socket; Target = 'con' }
    # tmux runs the pane's command through sh -c: each word is quoted for sh.
    $command = (@($pwsh) + @('-NoProfile', '-NoLogo') | ForEach-Object { "'" + $_.Replace("'", "'\''") + "'" }) -join ' '
    Invoke-ConTmux $terminal @('new-session', '-d', '-s', $terminal.Target, '-x', '160', '-y', '50', '-e', "MYHV_HOME=$HomePath", '-e', 'MYHV_ACCEL=tcg', $command)
    $null = Wait-ConScreen $terminal -Pattern '(?m)^PS .*> ?$'
    $terminal
}

function Invoke-ConTmux {
    param([Parameter(Mandatory)] $Terminal, [Parameter(Mandatory)] [string[]] $Arguments)
    $out = & tmux -S $Terminal.Socket @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "tmux $($Arguments -join ' ') failed: $out" }
    $out
}

function Send-ConKeys {
    <# Types literal text (-Text), then optionally one named key (-Key Enter, C-]). #>
    param([Parameter(Mandatory)] $Terminal, [string] $Text, [string] $Key)
    if ($Text) { $null = Invoke-ConTmux $Terminal @('send-keys', '-t', $Terminal.Target, '-l', '--', $Text) }
    if ($Key) { $null = Invoke-ConTmux $Terminal @('send-keys', '-t', $Terminal.Target, $Key) }
}

function Get-ConScreen {
    param([Parameter(Mandatory)] $Terminal)
    (Invoke-ConTmux $Terminal @('capture-pane', '-p', '-J', '-S', '-', '-t', $Terminal.Target)) -join "`n"
}

function Wait-ConScreen {
    <# Waits until the pane's text (scrollback included) matches -Pattern; returns the screen, or throws with it. #>
    param([Parameter(Mandatory)] $Terminal, [Parameter(Mandatory)] [string] $Pattern, [int] $TimeoutSeconds = 60)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $screen = Get-ConScreen $Terminal
        if ($screen -match $Pattern) { return $screen }
        if ([DateTime]::UtcNow -gt $deadline) { throw "The terminal never showed /$Pattern/ within $TimeoutSeconds s. Screen:`n$screen" }
        Start-Sleep -Milliseconds 200
    }
}

function Get-ConTerminalMode {
    <# The pane's terminal settings as the kernel holds them now (stty -g on its tty), read from outside the pane. #>
    param([Parameter(Mandatory)] $Terminal)
    $tty = (Invoke-ConTmux $Terminal @('display-message', '-p', '-t', $Terminal.Target, '#{pane_tty}')).Trim()
    $mode = & stty -g -F $tty
    if ($LASTEXITCODE -ne 0) { throw "stty -F $tty failed" }
    $mode
}

function Get-ConPanePid {
    param([Parameter(Mandatory)] $Terminal)
    [int] (Invoke-ConTmux $Terminal @('display-message', '-p', '-t', $Terminal.Target, '#{pane_pid}')).Trim()
}

function Remove-ConTerminal {
    <# Ends the tmux server (and with it the pane's pwsh); nothing of it is left. #>
    param($Terminal)
    if (-not $Terminal) { return }
    & tmux -S $Terminal.Socket kill-server 2>$null
}

Export-ModuleMember -Function New-ConTerminal, Invoke-ConTmux, Send-ConKeys, Get-ConScreen, Wait-ConScreen, Get-ConTerminalMode, Get-ConPanePid, Remove-ConTerminal
