# build.ps1 takes a task's result from its exit code, never from what the task writes: a copy of
# build.ps1 and BuildCommon.ps1 runs stand-in tasks in a temporary tree.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $repo = Get-MyHvRepoRoot
    $script:Tree = New-MyHvTestDir
    $null = New-Item -ItemType Directory -Path (Join-Path $script:Tree 'build/tasks')
    Copy-Item -LiteralPath (Join-Path $repo 'build.ps1') -Destination $script:Tree
    Copy-Item -LiteralPath (Join-Path $repo 'build/BuildCommon.ps1') -Destination (Join-Path $script:Tree 'build')

    function Set-StandInTask {
        param([string] $Name, [string] $Body)
        Set-Content -LiteralPath (Join-Path $script:Tree "build/tasks/$Name.ps1") -Value (
            "param([string] `$Configuration, [string] `$TestPath)`n`$ErrorActionPreference = 'Stop'`n. (Join-Path `$PSScriptRoot '../BuildCommon.ps1')`n$Body")
    }

    function Invoke-StandInBuild {
        param([string[]] $Task)
        # As a person types it (-Task A, B), so the task list binds as an array.
        $quoted = ($Task | ForEach-Object { "'$_'" }) -join ', '
        $child = Start-MyHvPwsh -EncodedCommand "& (Join-Path '$($script:Tree)' 'build.ps1') -Task $quoted; exit `$LASTEXITCODE" -WorkingDirectory $script:Tree
        Wait-MyHvPwsh -Process $child -TimeoutSeconds 120
    }
}

AfterAll {
    if ($script:Tree) { Remove-Item -LiteralPath $script:Tree -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'build.ps1 exit codes' {
    It 'fails with the exit code of a task that writes 0 to its pipeline and then exits 7' {
        Set-StandInTask -Name Docs -Body "Write-Output 0`nexit 7"
        $run = Invoke-StandInBuild -Task Docs
        $run.ExitCode | Should -Be 7
        $run.Stdout | Should -Match 'Docs failed \(exit code 7\)'
    }

    It 'succeeds for a task that writes 5 to its pipeline and exits 0, and shows what it wrote' {
        Set-StandInTask -Name Build -Body "Write-Output 5`nexit 0"
        $run = Invoke-StandInBuild -Task Build
        $run.ExitCode | Should -Be 0
        $run.Stdout | Should -Match '(?m)^5$'
    }

    It 'stops at the first failing task of several' {
        Set-StandInTask -Name Bootstrap -Body 'exit 3'
        Set-StandInTask -Name Demo -Body "Set-Content -LiteralPath (Join-Path `$PSScriptRoot 'demo-ran') -Value 1`nexit 0"
        $run = Invoke-StandInBuild -Task Bootstrap, Demo
        $run.ExitCode | Should -Be 3
        Join-Path $script:Tree 'build/tasks/demo-ran' | Should -Not -Exist
    }

    It 'fails a task whose nested task (Invoke-BuildTask) fails, naming it' {
        Set-StandInTask -Name Bootstrap -Body 'exit 4'
        Set-StandInTask -Name Test -Body "Invoke-BuildTask Bootstrap`nexit 0"
        $run = Invoke-StandInBuild -Task Test
        $run.ExitCode | Should -Not -Be 0
        "$($run.Stdout)$($run.Stderr)" | Should -Match 'The Bootstrap task failed \(exit code 4\)'
    }
}
