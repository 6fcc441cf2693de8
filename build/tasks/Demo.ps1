param([string] $Configuration, [string] $TestPath)
Write-Error 'The Demo task is not implemented yet (issue 3).'
1
