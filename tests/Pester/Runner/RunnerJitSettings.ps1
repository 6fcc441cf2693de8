# How the runner's own processes use the .NET JIT. Dot-sourced by Invoke-TestRun.ps1 (which
# restarts itself with these settings) and read by RunnerChild.ps1 (which takes them off again
# before its suite runs). Not a suite.
#
# Why: .NET compiles a method quickly first (tier 0) and, once it has been called 30 times,
# compiles it again, optimized, on a background thread (tier 1). That pays off in a process that
# lives long. The runner and its children are short-lived PowerShell processes whose hot methods
# are many: measured here (threads' CPU from /proc), that background thread was the runner's
# biggest consumer, 3.8 of its 6.6 CPU seconds over 8 small suites, and each child spent a
# similar share. With call counting off, a method keeps its first code (tier 0, or the ReadyToRun
# code of the precompiled copy): on the same 8 suites, 4 runs each, alternating, the serial run
# took 15.1 s instead of 19.4 s of wall time and 24 instead of 33 CPU seconds
# (bench/runner-results.md). The setting (DOTNET_TC_CallCounting, read by the runtime only at
# start) is the runtime's own; nothing else about the processes changes.
#
# It is right for the runner's processes and wrong for what a suite starts (a long dotnet build
# or a remote pwsh would run unoptimized), so the variables the runner adds are named in
# MYHV_RUNNER_JIT_SETTINGS, and the child removes them, and that list, before its suite runs.
# A value the user set themselves is left alone everywhere.

$script:JitSettings = [ordered]@{ DOTNET_TC_CallCounting = '0' }
$script:JitSettingsListName = 'MYHV_RUNNER_JIT_SETTINGS'

function Test-JitSettingsChosenByUser {
    <# True when the user set one of the runner's JIT variables themselves (not a runner's restart or child). #>
    if ([Environment]::GetEnvironmentVariable($script:JitSettingsListName)) { return $false }
    [bool] @($script:JitSettings.Keys | Where-Object { $null -ne [Environment]::GetEnvironmentVariable($_) })
}

function Get-JitSettingsEnvironment {
    <# The variables a runner process (itself on restart, each child) gets, with the list that names them. Empty when the user chose. #>
    $environment = @{}
    if (Test-JitSettingsChosenByUser) { return $environment }
    foreach ($name in $script:JitSettings.Keys) { $environment[$name] = $script:JitSettings[$name] }
    $environment[$script:JitSettingsListName] = @($script:JitSettings.Keys) -join ' '
    $environment
}

function Get-RunnerRestartArgument {
    <#
    The argument list that starts this runner again as its process's own script, from the
    ReadyToRun copy of pwsh when there is one, or $null when it should not restart: it runs with
    the settings already (a restart, or the user's own), or it is not its process's entry script
    (dot-sourced or called from a session: restarting would replace the caller's process).
    #>
    param([Parameter(Mandatory)] [string] $ScriptPath)
    if ((Test-JitSettingsChosenByUser) -or [Environment]::GetEnvironmentVariable($script:JitSettingsListName)) { return $null }
    $arguments = [Environment]::GetCommandLineArgs()   # [0] is pwsh.dll (or the apphost), then pwsh's own arguments
    $fileAt = -1
    for ($i = 1; $i -lt $arguments.Count - 1; $i++) {
        if ($arguments[$i] -match '^-(f|fi|fil|file)$') { $fileAt = $i; break }
        if ($arguments[$i] -match '^-(c|co|com|comm|comma|comman|command|e|ec|enc|encodedcommand)$') { return $null }
    }
    if ($fileAt -lt 0) { return $null }
    $named = [System.IO.Path]::GetFullPath($arguments[$fileAt + 1], [Environment]::CurrentDirectory)
    if ($named -ne $ScriptPath) { return $null }
    @(Get-PwshLaunchPrefix) + @($arguments | Select-Object -Skip 1)
}

function Invoke-RunnerRestart {
    <#
    Replaces this process (execve: same pid, same terminal, same parent, so signals and exit
    codes reach whoever waits for it exactly as before) with the same runner under the JIT
    settings. Returns only when it did not restart, with the reason when the exec failed.
    #>
    param([Parameter(Mandatory)] [string] $ScriptPath)
    $argv = Get-RunnerRestartArgument -ScriptPath $ScriptPath
    if (-not $argv) { return $null }
    # The environment this process was started with (/proc/self/environ), not pwsh's copy of it:
    # pwsh has added its own $PSHOME to PSModulePath, which is not the restarted pwsh's home.
    $environment = [System.Collections.Generic.List[string]]::new()
    $settings = Get-JitSettingsEnvironment
    foreach ($entry in [System.IO.File]::ReadAllText('/proc/self/environ').Split([char] 0, [System.StringSplitOptions]::RemoveEmptyEntries)) {
        if (-not $settings.Contains($entry.Split('=', 2)[0])) { $environment.Add($entry) }
    }
    foreach ($name in $settings.Keys) { $environment.Add("$name=$($settings[$name])") }
    [Console]::Out.Flush()
    $errno = [MyHvRunnerNative]::Exec([string] $argv[0], [string[]] $argv, $environment.ToArray())
    "it could not restart itself with its JIT settings (execve errno $errno); it runs without them"
}

function Remove-JitSettings {
    <# In a child, before its suite: the variables the runner added, and their list, are gone from what the suite and its processes see. #>
    $listed = [Environment]::GetEnvironmentVariable($script:JitSettingsListName)
    if (-not $listed) { return }
    foreach ($name in $listed.Split(' ', [System.StringSplitOptions]::RemoveEmptyEntries)) {
        if ($script:JitSettings.Contains($name)) { Remove-Item -LiteralPath "Env:$name" -ErrorAction Ignore }   # only ever the runner's own
    }
    # Remove-Item, not [Environment]::SetEnvironmentVariable($name, $null): on Linux that leaves the
    # name with an empty value in what a started process gets.
    Remove-Item -LiteralPath "Env:$script:JitSettingsListName" -ErrorAction Ignore
}
