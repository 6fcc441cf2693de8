# Bootstrap, Build, then the benchmark (bench/Invoke-Benchmark.ps1) in a child pwsh; writes
# bench/results.md and bench/results.json. The benchmark's exit code is the task's.
param([string] $Configuration = 'Release', [string] $TestPath)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../BuildCommon.ps1')

Invoke-BuildTask Bootstrap @{ Configuration = $Configuration }
Invoke-BuildTask Build @{ Configuration = $Configuration }

# A dedicated, short MYHV_HOME (unix socket paths stay far below 108 bytes), removed afterwards
# whatever happened to the child: any process still naming it is killed (by pid), then the folder goes.
$benchHome = (& mktemp -d -p /tmp 'mhb-XXXXXX')
if ($LASTEXITCODE -ne 0 -or -not $benchHome) { throw 'mktemp could not create the benchmark home' }
$benchHome = $benchHome.Trim()

# The child pwsh is started like this one: the native apphost, or (under `dotnet pwsh`) dotnet + pwsh.dll.
$launch = @([Environment]::ProcessPath)
if ([System.IO.Path]::GetFileNameWithoutExtension($launch[0]) -ne 'pwsh') { $launch += Join-Path $PSHOME 'pwsh.dll' }
# The guest section's 20 MiB copies take minutes under TCG.
$timeoutMinutes = 30
$exitCode = 1
try {
    $psi = [System.Diagnostics.ProcessStartInfo]::new($launch[0])
    foreach ($a in @($launch | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File',
            (Join-Path $RepoRoot 'bench/Invoke-Benchmark.ps1'), '-BenchHome', $benchHome, '-OutputDirectory', (Join-Path $RepoRoot 'bench'))) {
        $psi.ArgumentList.Add($a)
    }
    $psi.WorkingDirectory = $RepoRoot
    $psi.UseShellExecute = $false
    # No terminal for the measured pwsh: on a terminal every progress record the cmdlets write
    # costs a cursor-position round trip to it, which would time the terminal, not the module.
    # Its output is relayed here line by line.
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.Environment.Remove('MYHV_FAILPOINTS')
    $child = [System.Diagnostics.Process]::Start($psi)
    $child.StandardInput.Close()
    $stderr = $child.StandardError.ReadToEndAsync()
    $deadline = [DateTime]::UtcNow.AddMinutes($timeoutMinutes)
    $pending = $child.StandardOutput.ReadLineAsync()
    while ($true) {
        $left = ($deadline - [DateTime]::UtcNow).TotalMilliseconds
        if ($left -le 0) {
            Write-Host "The benchmark ran past $timeoutMinutes minutes; ending it."
            $child.Kill($true)
            break
        }
        if (-not $pending.Wait([int] [Math]::Min($left, 1000))) { continue }
        if ($null -eq $pending.Result) { break }
        Write-Host $pending.Result
        $pending = $child.StandardOutput.ReadLineAsync()
    }
    $child.WaitForExit()
    if ($stderr.Wait(5000) -and $stderr.Result) { Write-Host $stderr.Result }
    $exitCode = $child.ExitCode
}
finally {
    # Safety net: nothing of the benchmark's home may survive (QEMU daemons are not our children).
    foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $procId = 0
        if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId) -or $procId -eq $PID) { continue }
        try { $cmd = [System.IO.File]::ReadAllText("$dir/cmdline") } catch { continue }
        if ($cmd.Contains("$benchHome/")) {
            Write-Host "Ending leftover benchmark process $procId"
            try { [System.Diagnostics.Process]::GetProcessById($procId).Kill() } catch { }
        }
    }
    Start-Sleep -Milliseconds 200
    if (Test-Path -LiteralPath $benchHome) { Remove-Item -LiteralPath $benchHome -Recurse -Force }
}
if ($exitCode -eq 0) {
    Write-Host "Benchmark results: $(Join-Path $RepoRoot 'bench/results.md')"
}
exit $exitCode
