# Part of MyHvTestKit.psm1: the built module in a child pwsh. Start-MyHvPwsh/Wait-MyHvPwsh start and
# reap any pwsh; Start-MyHvChild/Receive-MyHvChild (and Invoke-MyHvChild, both in one) are THE
# launcher of test code in a child: environment, optional network namespace or other user, timeout
# with kill of the whole tree, and a JSON result.

$script:ResultPrefix = 'MHRESULT '

function Get-MyHvPwshLaunchPrefix {
    <#
    .SYNOPSIS
        How to start a pwsh like this one: the pwsh apphost, or (under `dotnet pwsh`) dotnet + $PSHOME/pwsh.dll.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param()
    $exe = [Environment]::ProcessPath
    if ([System.IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return , @($exe) }
    $dll = Join-Path $PSHOME 'pwsh.dll'
    if (-not (Test-Path -LiteralPath $dll -PathType Leaf)) { throw "Cannot start a child pwsh: host is '$exe' and '$dll' does not exist." }
    , @($exe, $dll)
}

function Start-MyHvPwsh {
    <#
    .SYNOPSIS
        Starts a child pwsh the way this one runs (-NoProfile -NonInteractive) and returns its Process.
    .DESCRIPTION
        stdin is redirected and closed at once; stdout and stderr are redirected (UTF-8) and read
        asynchronously from the start, so a chatty child never blocks: the returned Process carries
        the read tasks as note properties StdoutTask and StderrTask (Wait-MyHvPwsh collects them).
        The child inherits this process's environment, changed by -Environment.
    .PARAMETER File
        Runs a script file (pwsh -File); its parameters go in -ArgumentList.
    .PARAMETER Command
        Runs a command string (pwsh -Command).
    .PARAMETER EncodedCommand
        Script text, passed base64-encoded (pwsh -EncodedCommand), so no quoting can break it.
    .PARAMETER ArgumentList
        Further pwsh arguments, after -File/-Command/-EncodedCommand (or alone, as the raw argument list).
    .PARAMETER WorkingDirectory
        The child's current directory; the repository root unless given.
    .PARAMETER Environment
        Variables to set in the child; a $null value removes the variable.
    .PARAMETER Wrapper
        A program (and its arguments) to start pwsh through, e.g. @('ip', 'netns', 'exec', $ns) or @('setsid').
    .PARAMETER LaunchPrefix
        The pwsh to start (program and its first arguments) instead of Get-MyHvPwshLaunchPrefix, e.g. a
        copy another user can read: @('/usr/share/dotnet/dotnet', '/home/u/pwsh/pwsh.dll').
    .EXAMPLE
        $p = Start-MyHvPwsh -EncodedCommand 'Get-MyVm' -Environment @{ MYHV_ACCEL = 'tcg'; MYHV_FAILPOINTS = $null }
        $done = Wait-MyHvPwsh -Process $p -TimeoutSeconds 120
    .OUTPUTS
        [System.Diagnostics.Process], with note properties StdoutTask and StderrTask.
    #>
    [CmdletBinding()]
    [OutputType([System.Diagnostics.Process])]
    param(
        [string] $File,
        [string] $Command,
        [string] $EncodedCommand,
        [string[]] $ArgumentList,
        [string] $WorkingDirectory = (Get-MyHvRepoRoot),
        [hashtable] $Environment = @{},
        [string[]] $Wrapper,
        [string[]] $LaunchPrefix
    )
    $argv = [System.Collections.Generic.List[string]]::new()
    if ($Wrapper) { $argv.AddRange([string[]] $Wrapper) }
    $argv.AddRange([string[]] $(if ($LaunchPrefix) { $LaunchPrefix } else { Get-MyHvPwshLaunchPrefix }))
    $argv.AddRange([string[]] @('-NoProfile', '-NonInteractive'))
    if ($File) { $argv.Add('-File'); $argv.Add($File) }
    if ($Command) { $argv.Add('-Command'); $argv.Add($Command) }
    if ($EncodedCommand) { $argv.Add('-EncodedCommand'); $argv.Add([Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($EncodedCommand))) }
    if ($ArgumentList) { $argv.AddRange([string[]] $ArgumentList) }
    $psi = [System.Diagnostics.ProcessStartInfo]::new($argv[0])
    foreach ($arg in $argv.GetRange(1, $argv.Count - 1)) { $psi.ArgumentList.Add($arg) }
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.StandardOutputEncoding = [System.Text.UTF8Encoding]::new($false)
    $psi.StandardErrorEncoding = [System.Text.UTF8Encoding]::new($false)
    foreach ($key in $Environment.Keys) {
        if ($null -eq $Environment[$key]) { $null = $psi.Environment.Remove($key) } else { $psi.Environment[$key] = [string] $Environment[$key] }
    }
    $process = [System.Diagnostics.Process]::Start($psi)
    $process.StandardInput.Close()
    $process | Add-Member -NotePropertyName StdoutTask -NotePropertyValue $process.StandardOutput.ReadToEndAsync()
    $process | Add-Member -NotePropertyName StderrTask -NotePropertyValue $process.StandardError.ReadToEndAsync() -PassThru
}

function Wait-MyHvPwsh {
    <#
    .SYNOPSIS
        Waits for a child from Start-MyHvPwsh; past -TimeoutSeconds kills it and its children and throws.
    .OUTPUTS
        [pscustomobject] ExitCode (128 + signal when a signal ended it), Stdout, Stderr (text).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Process, [int] $TimeoutSeconds = 300)
    if (-not $Process.WaitForExit($TimeoutSeconds * 1000)) {
        $Process.Kill($true)
        $null = $Process.WaitForExit(10000)
        $sofar = if ($Process.StdoutTask.Wait(5000)) { $Process.StdoutTask.Result } else { '' }
        throw "The child pwsh (pid $($Process.Id)) did not finish within $TimeoutSeconds s; it was killed. stdout so far: $sofar"
    }
    $Process.WaitForExit()   # also waits for the redirected streams to reach their end
    [pscustomobject]@{ ExitCode = $Process.ExitCode; Stdout = $Process.StdoutTask.Result; Stderr = $Process.StderrTask.Result }
}

function Start-MyHvChild {
    <#
    .SYNOPSIS
        Starts test code in a fresh child pwsh with the built module and this kit imported, and returns
        at once with its Process (Receive-MyHvChild waits for it and parses its result).
    .DESCRIPTION
        Two ways to give the code, one result protocol (a line 'MHRESULT <json>' on stdout, so a child
        that dies, e.g. at a 'kill' fail point, has no result):
        -ScriptBlock: runs its text with $ErrorActionPreference 'Stop'; what it RETURNS is the result.
          An error ends the child (exit 1, no result).
        -Body: script text with Set-StrictMode 3 and $r, an ordered hashtable, to fill; $r is the
          result, also when the body throws ($r.Error, $r.ErrorId and $r.ErrorAt then say what).
        The child inherits this process's environment (MYHV_HOME, MYHV_TEST_ROOT ...) plus -Environment
        (a $null value removes a variable); NO_COLOR is set. Its current folder is the repository root.
        As another user: -Wrapper (e.g. setpriv ... --), -LaunchPrefix (a pwsh that user can read),
        -ScriptDirectory (where the script file goes, readable by it, also its current folder),
        -ModuleManifest and -KitPath (copies it can read).
    .PARAMETER Namespace
        Runs the child inside this network namespace (ip netns exec).
    #>
    [CmdletBinding(DefaultParameterSetName = 'ScriptBlock')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'ScriptBlock')] [scriptblock] $ScriptBlock,
        [Parameter(Mandatory, ParameterSetName = 'Body')] [string] $Body,
        [Alias('Netns')] [string] $Namespace,
        [hashtable] $Environment = @{},
        [string[]] $Wrapper,
        [string[]] $LaunchPrefix,
        [string] $ScriptDirectory,
        [string] $ModuleManifest = (Get-MyHvBuiltManifest),
        [Alias('HelpersPath')] [string] $KitPath = (Join-Path $PSScriptRoot 'MyHvTestKit.psm1')
    )
    $imports = "Import-Module -Name '$($ModuleManifest.Replace("'", "''"))' -Force -Global`nImport-Module -Name '$($KitPath.Replace("'", "''"))' -Force"
    $emit = "'$script:ResultPrefix' + (ConvertTo-Json -InputObject `$__result -Compress -Depth 8)"
    $text = if ($PSCmdlet.ParameterSetName -eq 'ScriptBlock') {
        "`$ErrorActionPreference = 'Stop'`n$imports`n`$__result = & {`n$ScriptBlock`n}`n$emit`n"
    }
    else {
        "`$ErrorActionPreference = 'Stop'`nSet-StrictMode -Version 3.0`n`$r = [ordered]@{}`ntry {`n$imports`n$Body`n} catch {`n" +
        "    `$r.Error = `"`$_`"`n    `$r.ErrorId = `$_.FullyQualifiedErrorId`n    `$r.ErrorAt = `$_.InvocationInfo.PositionMessage`n}`n" +
        "`$__result = `$r`n$emit`n"
    }
    $dir = if ($ScriptDirectory) { $ScriptDirectory }
    elseif ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT)) { $env:MYHV_TEST_ROOT } else { [System.IO.Path]::GetTempPath() }
    $file = Join-Path $dir ("child-{0}.ps1" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    Set-Content -LiteralPath $file -Value $text -Encoding utf8

    $childEnv = $Environment.Clone()
    $childEnv['NO_COLOR'] = '1'
    $fullWrapper = @(if ($Namespace) { 'ip', 'netns', 'exec', $Namespace }) + @($Wrapper | Where-Object { $_ })
    $workDir = if ($ScriptDirectory) { $ScriptDirectory } else { Get-MyHvRepoRoot }
    $process = Start-MyHvPwsh -File $file -WorkingDirectory $workDir -Environment $childEnv -Wrapper $fullWrapper -LaunchPrefix $LaunchPrefix
    $process | Add-Member -NotePropertyName ScriptFile -NotePropertyValue $file -PassThru
}

function Receive-MyHvChild {
    <#
    .SYNOPSIS
        Waits for a child from Start-MyHvChild (killing it and its children past -TimeoutSeconds, then
        throwing) and returns ExitCode, Output (its stdout and stderr lines) and Result (the parsed
        JSON it returned, or $null when it died first). Output keeps the MHRESULT line too.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Process, [int] $TimeoutSeconds = 240)
    try {
        $done = Wait-MyHvPwsh -Process $Process -TimeoutSeconds $TimeoutSeconds
        $lines = @(($done.Stdout + $done.Stderr) -split "`r?`n" | Where-Object { $_ -ne '' })
        $json = $lines | Where-Object { $_.StartsWith($script:ResultPrefix) } | Select-Object -Last 1
        [pscustomobject]@{
            ExitCode = $done.ExitCode
            Output   = $lines
            Result   = if ($json) { $json.Substring($script:ResultPrefix.Length) | ConvertFrom-Json } else { $null }
        }
    }
    finally {
        $Process.Dispose()
        Remove-Item -LiteralPath $Process.ScriptFile -Force -ErrorAction SilentlyContinue
    }
}

function Invoke-MyHvChild {
    <#
    .SYNOPSIS
        Start-MyHvChild, then Receive-MyHvChild: runs test code in a child pwsh and returns ExitCode,
        Output (lines) and Result. Takes the parameters of both (see Start-MyHvChild).
    .EXAMPLE
        $run = Invoke-MyHvChild -Namespace $ns -Environment @{ MYHV_FAILPOINTS = 'start.network=kill' } -ScriptBlock { Start-MyVm -Name a; 'unreached' }
        $run.Result | Should -BeNullOrEmpty
    #>
    [CmdletBinding(DefaultParameterSetName = 'ScriptBlock')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'ScriptBlock')] [scriptblock] $ScriptBlock,
        [Parameter(Mandatory, ParameterSetName = 'Body')] [string] $Body,
        [Alias('Netns')] [string] $Namespace,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 240,
        [string[]] $Wrapper,
        [string[]] $LaunchPrefix,
        [string] $ScriptDirectory,
        [string] $ModuleManifest = (Get-MyHvBuiltManifest),
        [Alias('HelpersPath')] [string] $KitPath = (Join-Path $PSScriptRoot 'MyHvTestKit.psm1')
    )
    $start = @{} + $PSBoundParameters
    $null = $start.Remove('TimeoutSeconds')
    $process = Start-MyHvChild @start
    Receive-MyHvChild -Process $process -TimeoutSeconds $TimeoutSeconds
}

function Invoke-MyHvChildPwsh {
    <#
    .SYNOPSIS
        Runs a command string in a child pwsh (Start-MyHvPwsh) with this process's environment and current
        folder, as a user would type it (no module imported for it). Returns its output lines (stdout,
        then stderr) and sets $LASTEXITCODE.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Command, [int] $TimeoutSeconds = 300)
    $child = Start-MyHvPwsh -Command $Command -WorkingDirectory (Get-Location -PSProvider FileSystem).ProviderPath
    $done = Wait-MyHvPwsh -Process $child -TimeoutSeconds $TimeoutSeconds
    $global:LASTEXITCODE = $done.ExitCode
    @(($done.Stdout + $done.Stderr) -split '\r?\n' | Where-Object { $_ -ne '' })
}

function Assert-MyHvChildRan {
    <#
    .SYNOPSIS
        Pester assertions on what Invoke-MyHvChild returned for a -Body: there is a Result, and it records
        no error (no 'Error' key); the child's output is the reason shown when either fails.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Run)
    $because = $Run.Output -join "`n"
    $Run.Result | Should -Not -BeNullOrEmpty -Because $because
    $Run.Result.PSObject.Properties.Name | Should -Not -Contain 'Error' -Because $because
}
