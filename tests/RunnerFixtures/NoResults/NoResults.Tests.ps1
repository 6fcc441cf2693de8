# A passing test that makes the NUnit export impossible: it puts a directory where the runner's
# child will write the results file (the path is on the child's own command line).
Describe 'sabotaged export' {
    It 'passes, then blocks the results file' {
        $argv = [Environment]::GetCommandLineArgs()
        $resultPath = $argv[[array]::IndexOf($argv, '-ResultPath') + 1]
        New-Item -ItemType Directory -Path $resultPath -Force | Out-Null
        1 | Should -Be 1
    }
}
