<#
Helpers for the MyHypervisor Pester suites. Import from a suite's BeforeAll:

    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force   # adjust the relative path
        Import-MyHvTestModule
        $script:testHome = New-MyHvTestHome
    }
    AfterAll { Assert-MyHvNoLeftovers -Home $script:testHome }

Under tests/Pester/Invoke-TestRun.ps1 each suite gets its own short MYHV_TEST_ROOT, which the
runner deletes and checks for leaks afterwards; these helpers keep everything under it.
#>

Set-StrictMode -Version 3.0

# mh* network devices that existed when each test home was made (home path -> names).
$script:TapBaseline = @{}

function Get-MyHvRepoRoot {
    <#
    .SYNOPSIS
        The repository root (two levels above this file, which lives in tests/Pester).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
}

function Import-MyHvTestModule {
    <#
    .SYNOPSIS
        Imports the BUILT module (out/MyHypervisor/MyHypervisor.psd1) into the global scope, -Force.
    .DESCRIPTION
        Suites test what the build produced, never src/. Fails with a hint when the build has not run.
        -Global matters: an import from inside this module would otherwise be visible only here.
    .OUTPUTS
        The PSModuleInfo of the imported module.
    #>
    [CmdletBinding()]
    param()
    $manifest = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
    if (-not (Test-Path -LiteralPath $manifest -PathType Leaf)) {
        throw "The built module is missing at $manifest; run: dotnet pwsh ./build.ps1 -Task Build"
    }
    Import-Module -Name $manifest -Force -Global -PassThru -ErrorAction Stop
}

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

function New-MyHvTestDir {
    <#
    .SYNOPSIS
        Creates a fresh private (0700) directory named <Prefix>-XXXXXX and returns its full path.
    .DESCRIPTION
        Made by mktemp under $env:MYHV_TEST_ROOT (set by the runner, deleted by it afterwards) or,
        when that is unset, directly under /tmp (left for you to delete). Keep -Prefix short: unix
        socket paths below the directory must stay well below 108 bytes.
    .EXAMPLE
        $script:share = New-MyHvTestDir -Prefix 'mhS'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([ValidatePattern('^[A-Za-z0-9]{1,8}$')] [string] $Prefix = 'mhT')
    $base = if ($env:MYHV_TEST_ROOT -and (Test-Path -LiteralPath $env:MYHV_TEST_ROOT -PathType Container)) { $env:MYHV_TEST_ROOT } else { '/tmp' }
    $mktemp = (Get-Command -Name mktemp -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $dir = & $mktemp -d -p $base "$Prefix-XXXXXX"
    if ($LASTEXITCODE -ne 0 -or -not $dir) { throw "mktemp could not create a test folder under $base" }
    $dir.Trim()
}

function New-MyHvTestHome {
    <#
    .SYNOPSIS
        Creates a fresh private (0700) directory, sets $env:MYHV_HOME to it and returns its path.
    .DESCRIPTION
        The directory is made by mktemp under $env:MYHV_TEST_ROOT (set by the runner, deleted by it
        afterwards) or, when that is unset, directly under /tmp (left for you to delete). Names are
        short on purpose: unix socket paths under the home must stay well below 108 bytes.
        Also records which mh* network devices exist now, for Assert-MyHvNoLeftovers.
    .OUTPUTS
        The full path of the new home.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $dir = New-MyHvTestDir -Prefix 'mhH'
    $script:TapBaseline[$dir] = Get-MyHvNetDeviceName
    $env:MYHV_HOME = $dir
    $dir
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
    if (Test-Path -LiteralPath $HomePath) {
        $find = (Get-Command -Name find -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        foreach ($socket in @(& $find $HomePath -type s 2>$null)) { $found.Add("socket file $socket") }
    }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/net/unix') | Select-Object -Skip 1) {
        $fields = $line -split '\s+', 8
        if ($fields.Count -ge 8 -and (Test-PathIsUnder -Candidate $fields[7] -Root $HomePath)) { $found.Add("bound unix socket $($fields[7])") }
    }
    foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $point = [regex]::Replace($line.Split(' ')[4], '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
        if (Test-PathIsUnder -Candidate $point -Root $HomePath) { $found.Add("mount $point") }
    }
    $lockNeedle = $HomePath.Replace('/', '.')
    foreach ($lock in @(Get-ChildItem -LiteralPath '/run/virtiofsd' -File -Force -ErrorAction SilentlyContinue | Where-Object { $_.Name.Contains($lockNeedle) })) {
        $found.Add("virtiofsd lock file $($lock.FullName)")
    }
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

function Skip-UnlessPrerequisite {
    <#
    .SYNOPSIS
        Inside an It: skips the test when a prerequisite is missing, but FAILS it under CI=true.
    .DESCRIPTION
        No skip may hide a missing install: on a developer machine without, say, qemu the test is
        reported skipped with the prerequisite's name; where $env:CI is 'true' the same condition
        fails the test (error id PrerequisiteMissing) naming the missing prerequisite.
        Returns nothing when the prerequisite is there, so the test simply goes on.
    .PARAMETER Name
        The prerequisite, as a person would install it (e.g. 'qemu-system-x86_64', 'root', '/dev/kvm').
    .PARAMETER Condition
        $true (or a script block returning a true value) when the prerequisite is present.
    .PARAMETER NotInstallable
        The prerequisite is one no package on this platform provides (the Cloud Hypervisor binary):
        the test is skipped even under CI=true, with the reason exactly
        'not installable on this platform: <Name>', which the runner lists in its summary. Only for
        such named exceptions, never for something Bootstrap could install.
    .EXAMPLE
        It 'boots' { Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }; ... }
    .EXAMPLE
        It 'runs on the real binary' { Skip-UnlessPrerequisite -NotInstallable -Name 'cloud-hypervisor' -Condition $realCh; ... }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [AllowNull()] [object] $Condition,
        [switch] $NotInstallable
    )
    $present = if ($Condition -is [scriptblock]) { & $Condition } else { $Condition }
    if ($present) { return }
    if ($NotInstallable) {
        Set-ItResult -Skipped -Because "not installable on this platform: $Name"
        return
    }
    if ($env:CI -eq 'true') {
        $exception = [System.InvalidOperationException]::new("Prerequisite missing: $Name (CI=true, so a missing prerequisite fails the test instead of skipping it)")
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new(
                $exception, 'PrerequisiteMissing', [System.Management.Automation.ErrorCategory]::NotInstalled, $Name))
    }
    Set-ItResult -Skipped -Because "prerequisite missing: $Name"
}

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

Export-ModuleMember -Function Get-MyHvRepoRoot, Import-MyHvTestModule, Get-MyHvNetDeviceName, New-MyHvTestDir, New-MyHvTestHome,
    Get-MyHvLeftover, Assert-MyHvNoLeftovers, Skip-UnlessPrerequisite, Get-MyHvPwshLaunchPrefix, Start-MyHvPwsh, Wait-MyHvPwsh
