param([string] $Configuration, [string] $TestPath)
Write-Error 'The Bench task is not implemented yet (issue 7).'
1
