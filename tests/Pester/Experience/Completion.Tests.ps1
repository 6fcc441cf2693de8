# Issue 6, point 3: tab completion, through TabExpansion2 as a console would call it. -Name of every
# cmdlet that acts on existing VMs completes the existing VM names that start with what was typed,
# and only those; New-MyVm -Image completes the images of the search path. No VM runs here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite

    function Get-Completion {
        # What Tab offers at the end of the line.
        param([string] $Line)
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }

    foreach ($name in 'web1', 'web2', 'wiki', 'db1', 'xweb') { $null = New-MyVm -Name $name -ErrorAction Stop }

    # A second image in the search path (MYHV_HOME/images): a manifest with files it names.
    $imageDir = Join-Path $script:vmHome 'images/tinx'
    $null = New-Item -ItemType Directory -Path $imageDir
    foreach ($file in 'vmlinuz', 'rootfs.ext4') { Set-Content -LiteralPath (Join-Path $imageDir $file) -Value 'x' }
    '{ "Name": "tinx", "Kernel": "vmlinuz", "Disk": "rootfs.ext4" }' | Set-Content -LiteralPath (Join-Path $imageDir 'image.json')
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'VM name completion' {
    It '<Command> -Name we completes web1 and web2 only' -ForEach @(
        @{ Command = 'Get-MyVm' }, @{ Command = 'Start-MyVm' }, @{ Command = 'Stop-MyVm' }, @{ Command = 'Remove-MyVm' },
        @{ Command = 'Get-MyVmStats' }, @{ Command = 'Get-MyVmConsole' }, @{ Command = 'Repair-MyVm' }
    ) {
        Get-Completion "$Command -Name we" | Should -Be @('web1', 'web2')
        Get-Completion "$Command -Name w" | Should -Be @('web1', 'web2', 'wiki')
    }

    It '<Command> completes names at the first position too (no -Name)' -ForEach @(
        @{ Command = 'Get-MyVm' }, @{ Command = 'Start-MyVm' }, @{ Command = 'Stop-MyVm' }, @{ Command = 'Remove-MyVm' }
    ) {
        Get-Completion "$Command d" | Should -Be @('db1')
    }

    It 'completes every VM for an empty word, and the next element of a list' {
        Get-Completion 'Get-MyVm -Name ' | Should -Be @('db1', 'web1', 'web2', 'wiki', 'xweb')
        Get-Completion 'Stop-MyVm -Name db1, we' | Should -Be @('web1', 'web2')
    }

    It 'offers no VM for a prefix that no VM has' {
        $offered = Get-Completion 'Get-MyVm -Name zz'
        foreach ($name in 'web1', 'web2', 'wiki', 'db1', 'xweb') { $offered | Should -Not -Contain $name }
    }

    It 'follows the VMs that exist now (a removed VM is no longer offered, a new one is)' {
        Remove-MyVm -Name 'wiki' -Confirm:$false -ErrorAction Stop
        $null = New-MyVm -Name 'wasm' -ErrorAction Stop
        Get-Completion 'Start-MyVm -Name w' | Should -Be @('wasm', 'web1', 'web2')
    }

    It 'keeps wildcards typed by the user and survives a word that is not a valid pattern' {
        Get-Completion 'Get-MyVm -Name *web' | Should -Be @('web1', 'web2', 'xweb')
        { Get-Completion 'Get-MyVm -Name [w' } | Should -Not -Throw
        Get-Completion 'Get-MyVm -Name [w' | Should -Not -Contain 'web1'
    }

    It 'completes inside quotes' {
        Get-Completion "Get-MyVm -Name 'web" | Should -Be @('web1', 'web2')
    }
}

Describe 'Image completion' {
    It 'New-MyVm x -Image ti completes tiny (and the other image that starts so)' {
        $offered = Get-Completion 'New-MyVm x -Image ti'
        $offered | Should -Contain 'tiny'
        $offered | Should -Contain 'tinx'
        $offered | ForEach-Object { $_ | Should -BeLike 'ti*' }
    }

    It 'offers only the images that match the prefix' {
        Get-Completion 'New-MyVm x -Image tinx' | Should -Be @('tinx')
        Get-Completion 'New-MyVm -Name x -Image tin' | Should -Be @('tinx', 'tiny')
        Get-Completion 'New-MyVm -Image zz' | Should -Not -Contain 'tiny'
    }
}
