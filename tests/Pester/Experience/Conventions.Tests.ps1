# Issue 6, point 5: the conventions a PowerShell user relies on, checked on every exported cmdlet
# (so a cmdlet added later is held to them too): approved verbs, [OutputType], SupportsShouldProcess
# on every verb that changes state, -Name from the pipeline by value and by property name,
# SupportsWildcards exactly where names are patterns (checked against behaviour), -PassThru and
# -Force where a user wants them, and no help-hostile parameter names. No VM runs here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:module = Import-MyHvTestModule
    $script:vmHome = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'
    # Verbs that only read or check; every other verb changes something and must support -WhatIf.
    $script:readOnlyVerbs = 'Get', 'Test', 'Find', 'Search', 'Measure', 'Read', 'Show', 'Watch', 'Compare', 'Resolve', 'Select', 'Format', 'Export', 'ConvertTo', 'ConvertFrom'
    # Commands whose verb may change state but that change nothing: attaching a terminal to a
    # console changes no VM (as Enter-PSSession has no -WhatIf). Connect-MyVmHost keeps a session: it does.
    $script:readOnlyCommands = @('Connect-MyVmConsole')
}

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $discovered = Import-MyHvTestModule
    $script:cmdlets = @($discovered.ExportedCmdlets.Keys | Sort-Object | ForEach-Object { @{ Name = $_ } })
    # Connect-MyVmHost's -Name is the label it gives a new host (its first positional is -HostName).
    $script:nameCmdlets = @($discovered.ExportedCmdlets.Values | Where-Object { $_.Parameters.ContainsKey('Name') -and $_.Name -ne 'Connect-MyVmHost' } |
            Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'The exported cmdlets' {
    It 'are the module''s cmdlets, all binary cmdlets' {
        $module.ExportedCmdlets.Keys | Sort-Object | Should -Be @(
            'Connect-MyVmConsole', 'Connect-MyVmHost', 'Copy-MyVm', 'Copy-MyVmFile', 'Disconnect-MyVmHost', 'Get-MyVm', 'Get-MyVmConsole', 'Get-MyVmGuest', 'Get-MyVmHost',
            'Get-MyVmImage', 'Get-MyVmOrphan', 'Get-MyVmStats', 'Invoke-MyVmCommand',
            'New-MyVm', 'New-MyVmImage', 'Remove-MyVm', 'Remove-MyVmImage', 'Repair-MyVm', 'Restart-MyVm', 'Resume-MyVm', 'Set-MyVm', 'Start-MyVm',
            'Stop-MyVm', 'Suspend-MyVm', 'Test-MyVmHost',
            'Checkpoint-MyVm', 'Get-MyVmCheckpoint', 'Remove-MyVmCheckpoint', 'Restore-MyVmCheckpoint' | Sort-Object)
        $module.ExportedFunctions.Count | Should -Be 0
    }
}

Describe '<Name>' -ForEach $cmdlets {
    BeforeAll {
        $script:command = Get-Command -Name $Name -Module MyHypervisor -CommandType Cmdlet
        $script:verb = $command.Verb
    }

    It 'uses an approved verb' {
        (Get-Verb -Verb $verb) | Should -Not -BeNullOrEmpty -Because "'$verb' must be an approved verb (Get-Verb)"
    }

    It 'declares [OutputType] with real types' {
        $command.OutputType | Should -Not -BeNullOrEmpty
        foreach ($type in $command.OutputType) { $type.Type | Should -Not -BeNullOrEmpty -Because "$($type.Name) must resolve to a type" }
    }

    It 'supports -WhatIf/-Confirm when its verb changes state' {
        $supports = $command.Parameters.ContainsKey('WhatIf') -and $command.Parameters.ContainsKey('Confirm')
        if ($verb -in $readOnlyVerbs -or $command.Name -in $readOnlyCommands) {
            $supports | Should -BeFalse -Because "$verb changes nothing, so -WhatIf would promise what it does not need"
        }
        else {
            $supports | Should -BeTrue -Because "$verb changes state: SupportsShouldProcess"
        }
    }

    It 'has -PassThru or writes its object when it changes a VM it keeps, and -AsJob returns a Job' {
        if ($verb -in $readOnlyVerbs -or $command.Name -in $readOnlyCommands) { return }
        $types = @($command.OutputType.Type)
        # Disconnect-MyVmHost forgets a host: nothing is left to return either.
        if ($verb -in 'Remove', 'Disconnect') {
            $types | Should -Be @([void]) -Because 'nothing is left to return'
            return
        }
        ($command.Parameters.ContainsKey('PassThru') -or ($types | Where-Object { $_ -ne [void] })) | Should -BeTrue
        if ($command.Parameters.ContainsKey('AsJob')) { $types | Should -Contain ([System.Management.Automation.Job]) }
        if ($command.Parameters.ContainsKey('PassThru')) { $types | Should -Contain ([MyHypervisor.Core.Vms.VmInfo]) }
    }
}

Describe '-Name of <Name>' -ForEach $nameCmdlets {
    BeforeAll {
        $script:parameter = (Get-Command -Name $Name -Module MyHypervisor).Parameters['Name']
        $script:attributes = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    }

    It 'is a positional first parameter' {
        $attributes | ForEach-Object { $_.Position | Should -Be 0 }
    }

    It 'takes pipeline input by value and by property name' {
        $attributes | ForEach-Object {
            $_.ValueFromPipeline | Should -BeTrue
            $_.ValueFromPipelineByPropertyName | Should -BeTrue
        }
    }

    It 'is [SupportsWildcards] exactly when it is a pattern over existing VMs, and behaves so' {
        $declared = [bool] @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] }).Count
        if ($Name -in 'Get-MyVmHost', 'Disconnect-MyVmHost') {
            # Host names are patterns over the connected hosts; localhost is always one.
            $declared | Should -BeTrue
            (Get-MyVmHost -Name 'local*').Name | Should -Be 'localhost'
            @(Get-MyVmHost -Name 'nohost*').Count | Should -Be 0
            return
        }
        if ($Name -eq 'New-MyVm') {
            $declared | Should -BeFalse -Because 'a new name is a literal'
            ({ New-MyVm -Name 'conv*' } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
            return
        }
        if ($Name -eq 'Connect-MyVmConsole') {
            $declared | Should -BeFalse -Because 'a terminal attaches to one VM, named exactly'
            ({ Connect-MyVmConsole -Name 'conv*' } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
            $err = $null
            Connect-MyVmConsole -Name 'zz' -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotFound,*'
            return
        }
        if ($Name -eq 'New-MyVmImage') {
            $declared | Should -BeFalse -Because 'a new name is a literal'
            ({ New-MyVmImage -Name 'conv*' -WhatIf } | Should -Throw -PassThru).FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
            return
        }
        if ($Name -in 'Get-MyVmImage', 'Remove-MyVmImage') {
            # Image names are patterns over the images found: an image 'conva' in a private search folder.
            $declared | Should -BeTrue
            $parameter.ParameterType | Should -Be ([string[]])
            $images = Join-Path $script:vmHome 'conv-images'
            $null = New-Item -ItemType Directory -Path (Join-Path $images 'conva') -Force
            Set-Content -LiteralPath (Join-Path $images 'conva/image.json') -Value '{ "Name": "conva", "Kernel": "k", "Disk": "d" }'
            Set-Content -LiteralPath (Join-Path $images 'conva/k'), (Join-Path $images 'conva/d') -Value ''
            $savedPath = $env:MYHV_IMAGE_PATH
            $env:MYHV_IMAGE_PATH = $images
            try {
                $err = $null
                $reached = if ($Name -eq 'Get-MyVmImage') { Get-MyVmImage -Name 'conv?' -ErrorVariable err | ForEach-Object Name }
                else {
                    Remove-MyVmImage -Name 'conv*' -Confirm:$false -ErrorVariable err
                    if (-not (Test-Path -LiteralPath (Join-Path $images 'conva'))) { 'conva' }
                }
                $err | Should -BeNullOrEmpty
                @($reached) | Should -Be @('conva')
                $err = $null
                $null = & $Name -Name 'zz*' -ErrorVariable err -ErrorAction SilentlyContinue
                $err | Should -BeNullOrEmpty
                $null = & $Name -Name 'zz' -ErrorVariable err -ErrorAction SilentlyContinue
                @($err).Count | Should -Be 1
                $err[0].FullyQualifiedErrorId | Should -BeLike 'ImageNotFound,*'
            }
            finally { $env:MYHV_IMAGE_PATH = $savedPath; Remove-Item -LiteralPath $images -Recurse -Force }
            return
        }
        $declared | Should -BeTrue
        $parameter.ParameterType | Should -Be ([string[]]) -Because 'several names or patterns at once'
        # Behaviour: the pattern reaches the existing VM 'conva' (each cmdlet shows it its own way).
        $null = New-MyVm -Name 'conva' -ErrorAction Stop
        try {
            $err = $null
            $reached = switch ($Name) {
                'Get-MyVm' { Get-MyVm -Name 'conv?' -ErrorVariable err | ForEach-Object Name }
                'Repair-MyVm' { Repair-MyVm -Name 'con[v]a' -ErrorVariable err | ForEach-Object Name }
                'Stop-MyVm' { Stop-MyVm -Name 'conv*' -PassThru -ErrorVariable err | ForEach-Object Name }
                'Remove-MyVm' {
                    Remove-MyVm -Name 'conv*' -Confirm:$false -ErrorVariable err
                    if (-not (Get-MyVm -Name 'conva' -ErrorAction SilentlyContinue)) { 'conva' }
                }
                'Start-MyVm' {
                    # A start that fails at its first step names the VM it was for, and boots nothing.
                    $env:MYHV_FAILPOINTS = 'start.storage=error'
                    try { Start-MyVm -Name 'conv*' -ErrorVariable started -ErrorAction SilentlyContinue } finally { $env:MYHV_FAILPOINTS = $null }
                    @($started | Where-Object { $_.FullyQualifiedErrorId -like 'VmStartFailed,*' } | ForEach-Object TargetObject)
                }
                'Get-MyVmConsole' {
                    # The literal 'conv*' would be an InvalidVmName error; the pattern reads conva's (empty) console.
                    $null = Get-MyVmConsole -Name 'conv*' -ErrorVariable err
                    if (-not $err) { 'conva' }
                }
                { $_ -in 'Invoke-MyVmCommand', 'Copy-MyVmFile' } {
                    # Work in a guest names the VM the pattern reached: conva is not running.
                    $extra = if ($Name -eq 'Copy-MyVmFile') { @{ Path = '/etc/hostname'; Destination = '/tmp/x' } } else { @{ FilePath = '/bin/true' } }
                    & $Name -Name 'conv*' @extra -ErrorVariable inGuest -ErrorAction SilentlyContinue
                    @($inGuest | Where-Object { $_.FullyQualifiedErrorId -like 'VmNotRunning,*' } | ForEach-Object TargetObject)
                }
                'Get-MyVmGuest' {
                    # As Get-MyVmStats: by name a stopped VM is VmNotRunning; matched by a pattern it is skipped.
                    $null = Get-MyVmGuest -Name 'conva' -ErrorVariable literal -ErrorAction SilentlyContinue
                    $null = Get-MyVmGuest -Name 'conv*' -ErrorVariable err
                    if (-not $err -and @($literal).Count -eq 1) { 'conva' }
                }
                'Get-MyVmStats' {
                    # By name, a stopped VM is a VmNotRunning error; matched by a pattern it is skipped quietly.
                    $null = Get-MyVmStats -Name 'conva' -ErrorVariable literal -ErrorAction SilentlyContinue
                    $null = Get-MyVmStats -Name 'conv*' -ErrorVariable err
                    if (-not $err -and @($literal).Count -eq 1) { 'conva' }
                }
                'Copy-MyVm' {
                    $null = Copy-MyVm -Name 'conv*' -NewName 'convcopy' -ErrorVariable err
                    if (Get-MyVm -Name 'convcopy' -ErrorAction SilentlyContinue) { 'conva'; Remove-MyVm -Name 'convcopy' -Confirm:$false }
                }
                'Set-MyVm' {
                    $null = Set-MyVm -Name 'conv*' -Cpus 2 -ErrorVariable err
                    if ((Get-MyVm -Name 'conva').Cpus -eq 2) { 'conva' }
                }
                { $_ -in 'Suspend-MyVm', 'Resume-MyVm', 'Restart-MyVm' } {
                    # As Get-MyVmStats: a stopped VM named literally is VmNotRunning; matched by a pattern it is skipped, with -Verbose saying so.
                    $null = & $Name -Name 'conva' -ErrorVariable literal -ErrorAction SilentlyContinue
                    $said = @(& $Name -Name 'conv*' -ErrorVariable err -Verbose 4>&1 | ForEach-Object Message)
                    if (@($literal).Count -eq 1 -and $literal[0].FullyQualifiedErrorId -like 'VmNotRunning,*' -and ($said -match "VM 'conva' is not running; skipped")) { 'conva' }
                }
                'Checkpoint-MyVm' {
                    # conva was never started: the pattern reaches it, and its missing disk is its own error.
                    Checkpoint-MyVm -Name 'conv*' -CheckpointName 'c1' -ErrorVariable made -ErrorAction SilentlyContinue
                    @($made | Where-Object { $_.FullyQualifiedErrorId -like 'InvalidVmSpec,*' } | ForEach-Object { $_.Exception.VmName })
                }
                { $_ -in 'Get-MyVmCheckpoint', 'Restore-MyVmCheckpoint', 'Remove-MyVmCheckpoint' } {
                    # The pattern reaches conva, which has no checkpoint 'c1': an error for conva.
                    $null = & $Name -Name 'conv*' -CheckpointName 'c1' -ErrorVariable missing -ErrorAction SilentlyContinue
                    @($missing | Where-Object { $_.FullyQualifiedErrorId -like 'InvalidVmSpec,*' } | ForEach-Object { $_.Exception.VmName })
                }
                default { throw "no behaviour check for $Name -Name: add one" }
            }
            $err | Should -BeNullOrEmpty -Because 'a pattern is not taken for a (bad) literal name'
            @($reached) | Should -Be @('conva')
            # A pattern that matches nothing is no error (as with Get-ChildItem); a literal unknown name is.
            $none = @{ Name = 'zz*'; ErrorVariable = 'err'; ErrorAction = 'SilentlyContinue' }
            # What the guest cmdlets need besides a name.
            if ($Name -eq 'Invoke-MyVmCommand') { $none.FilePath = '/bin/true' }
            if ($Name -eq 'Copy-MyVmFile') { $none.Path = '/etc/hostname'; $none.Destination = '/tmp/x' }
            if ($Name -in 'Restore-MyVmCheckpoint', 'Remove-MyVmCheckpoint') { $none.CheckpointName = 'c1' }
            $err = $null
            $null = & $Name @none
            $err | Should -BeNullOrEmpty
            $none.Name = 'zz'
            if ((Get-Command -Name $Name).Parameters.ContainsKey('Confirm')) { $none.Confirm = $false }
            $null = & $Name @none
            @($err).Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotFound,*'
        }
        finally { Remove-MyVm -Name 'conva' -Confirm:$false -ErrorAction SilentlyContinue }
    }
}

Describe 'Switches a user expects' {
    It 'Stop-MyVm and Remove-MyVm have -Force; Start-MyVm and Stop-MyVm have -PassThru, -AsJob, -TimeoutSeconds' {
        foreach ($pair in @(
                @('Stop-MyVm', 'Force'), @('Remove-MyVm', 'Force'),
                @('Start-MyVm', 'PassThru'), @('Stop-MyVm', 'PassThru'), @('Start-MyVm', 'AsJob'), @('Stop-MyVm', 'AsJob'),
                @('Start-MyVm', 'TimeoutSeconds'), @('Stop-MyVm', 'TimeoutSeconds'), @('Start-MyVm', 'Wait'), @('Test-MyVmHost', 'Quiet'))) {
            (Get-Command -Name $pair[0]).Parameters.ContainsKey($pair[1]) | Should -BeTrue -Because "$($pair[0]) -$($pair[1])"
            (Get-Command -Name $pair[0]).Parameters[$pair[1]].ParameterType | Should -BeIn @([switch], [int])
        }
    }

    It 'Remove-MyVm has ConfirmImpact High (asks by default), Start-MyVm does not ask' {
        $remove = (Get-Command Remove-MyVm).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $remove.ConfirmImpact | Should -Be 'High'
        $start = (Get-Command Start-MyVm).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $start.ConfirmImpact | Should -BeIn 'Low', 'None'
    }
}
