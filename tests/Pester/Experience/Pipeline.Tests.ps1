# Issue 6, points 5 and 6 / acceptance: objects flow through the pipeline, also across boundaries.
# Binding by value ('a','b' | Get-MyVm) and by property name (a plain [pscustomobject], VMs that come
# back deserialized from Export-Clixml). Three VMs in one call with one failing (an image folder
# removed after New-MyVm, a VM already running, an unknown name): the error is non-terminating,
# names the VM as TargetObject and the other two are handled; with -ErrorAction Stop the first
# error stops the command. Errors are caught by id and carry sensible categories.
# Starts here do not wait for the guest (-Wait is not what is tested): each costs about a second.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite

    foreach ($name in 'pa', 'pb', 'pd') { $null = New-MyVm -Name $name -ErrorAction Stop }

    # 'pc' is made from a private copy of the default image whose folder is removed after New-MyVm.
    $tiny = (Get-Content -Raw -LiteralPath (Join-Path $vmHome 'vms/pa/definition.json') | ConvertFrom-Json).ImagePath
    $script:goneImage = Join-Path $TestDrive 'gone-image'
    $null = New-Item -ItemType Directory -Path $goneImage
    foreach ($file in 'vmlinuz', 'initrd.img', 'rootfs.ext4') {
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $goneImage $file) -Target (Join-Path $tiny $file)
    }
    '{ "Name": "gone", "Kernel": "vmlinuz", "Initrd": "initrd.img", "Disk": "rootfs.ext4" }' |
        Set-Content -LiteralPath (Join-Path $goneImage 'image.json')
    $null = New-MyVm -Name 'pc' -Image $goneImage -ErrorAction Stop
    Remove-Item -LiteralPath $goneImage -Recurse -Force

    function Get-Names { param($Objects) @($Objects | ForEach-Object Name) }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'Binding' {
    It "'pa','pb' | Get-MyVm binds the names by value" {
        Get-Names ('pa', 'pb' | Get-MyVm -ErrorAction Stop) | Should -Be @('pa', 'pb')
    }

    It 'a plain [pscustomobject] with a Name binds by property name (not by its string form)' {
        $vm = [pscustomobject]@{ Name = 'pd'; Other = 'ignored' } | Get-MyVm -ErrorAction Stop
        $vm.Name | Should -Be 'pd'
        $vm | Should -BeOfType ([MyHypervisor.Core.Vms.VmInfo])
    }

    It "'px','py' | New-MyVm creates one VM per name, by value" {
        $created = 'px', 'py' | New-MyVm -MemoryMiB 128 -ErrorAction Stop
        Get-Names $created | Should -Be @('px', 'py')
        (Get-MyVm -Name 'px', 'py' -ErrorAction Stop).MemoryMiB | Should -Be @(128, 128)
        'px', 'py' | Remove-MyVm -Confirm:$false -ErrorAction Stop
        Get-MyVm -Name 'p[xy]' | Should -BeNullOrEmpty
    }

    It 'Get-MyVm output binds by property name to the next cmdlet' {
        (Get-MyVm -Name 'pa' | Get-MyVmConsole -ErrorAction Stop) | Should -BeNullOrEmpty -Because 'a VM that never ran has no console yet'
        $err = $null
        Get-MyVm -Name 'pa' | Get-MyVmStats -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*' -Because 'the piped VM was bound by name, and it is not running'
    }
}

Describe 'Three VMs in one call, one failing' {
    It 'Start-MyVm: the VM whose image folder was removed fails, the two around it start' {
        $err = $null
        $out = 'pa', 'pc', 'pb' | Start-MyVm -PassThru -ErrorVariable err -ErrorAction SilentlyContinue
        Get-Names $out | Should -Be @('pa', 'pb')
        $out.Status | Should -Be @('Running', 'Running')
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'ImageNotFound,MyHypervisor.PowerShell.Commands.StartMyVmCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be 'pc'
        $err[0].Exception.Message | Should -Match ([regex]::Escape($goneImage))
        (Get-MyVm -Name 'pc').Status | Should -Not -Be 'Running'
        Test-Path -LiteralPath (Join-Path $vmHome 'run/pc') | Should -BeFalse
    }

    It 'Get-MyVm | Export-Clixml; Import-Clixml | Stop-MyVm stops the deserialized VMs, bound by property name' {
        $file = Join-Path $TestDrive 'vms.xml'
        Get-MyVm -Name 'pa', 'pb', 'pc' | Export-Clixml -LiteralPath $file
        $imported = @(Import-Clixml -LiteralPath $file)
        $imported | ForEach-Object { $_.pstypenames[0] | Should -Be 'Deserialized.MyHypervisor.Core.Vms.VmInfo' }
        $err = $null
        $out = $imported | Stop-MyVm -Force -PassThru -ErrorVariable err
        $err | Should -BeNullOrEmpty -Because 'stopping a VM that is not running (pc) is not an error'
        Get-Names $out | Should -Be @('pa', 'pb', 'pc')
        (Get-MyVm -Name 'pa', 'pb').Status | Should -Be @('Stopped', 'Stopped')
        (Get-MyVm -Name 'pa', 'pb').StopMethod | ForEach-Object { "$_" | Should -BeIn 'HypervisorQuit', 'Terminate', 'Kill' -Because '-Force skips the guest' }
    }

    It '[pscustomobject]@{ Name = ''pa'' } | Start-MyVm starts it' {
        $vm = [pscustomobject]@{ Name = 'pa' } | Start-MyVm -PassThru -ErrorAction Stop
        $vm.Name | Should -Be 'pa'
        $vm.Status | Should -Be 'Running'
        (Get-MyVm -Name 'pa').Pid | Should -Be $vm.Pid
        $script:paPid = $vm.Pid
    }

    It 'Start-MyVm: a VM that is already running fails, the two around it start' {
        $err = $null
        $out = 'pb', 'pa', 'pd' | Start-MyVm -PassThru -ErrorVariable err -ErrorAction SilentlyContinue
        Get-Names $out | Should -Be @('pb', 'pd')
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'VmAlreadyRunning,MyHypervisor.PowerShell.Commands.StartMyVmCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be 'pa'
        (Get-MyVm -Name 'pa').Pid | Should -Be $paPid -Because 'the running VM was left alone'
        (Get-MyVm -Name 'pb', 'pd').Status | Should -Be @('Running', 'Running')
    }

    It 'Stop-MyVm: an unknown name in the middle fails, the two around it stop' {
        $err = $null
        $in = 'pa', 'nope', 'pb' | ForEach-Object { [pscustomobject]@{ Name = $_ } }
        $out = $in | Stop-MyVm -Force -PassThru -ErrorVariable err -ErrorAction SilentlyContinue
        Get-Names $out | Should -Be @('pa', 'pb')
        $out.Status | Should -Be @('Stopped', 'Stopped')
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'VmNotFound,MyHypervisor.PowerShell.Commands.StopMyVmCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be 'nope'
        (Get-MyVm -Name 'pd').Status | Should -Be 'Running' -Because 'pd was not named'
    }

    It 'with -ErrorAction Stop, the first failing VM stops the command: the VM after it is not started' {
        $caught = $null
        try { 'pb', 'pc', 'pa' | Start-MyVm -ErrorAction Stop }
        catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'ImageNotFound,*'
        $caught.TargetObject | Should -Be 'pc'
        (Get-MyVm -Name 'pb').Status | Should -Be 'Running' -Because 'pb came before the failure'
        (Get-MyVm -Name 'pa').Status | Should -Be 'Stopped' -Because 'pa came after it'
    }

    It 'with -ErrorAction Stop, an unknown name stops the command before any VM is acted on' {
        { Stop-MyVm -Name 'pb', 'nope', 'pd' -Force -ErrorAction Stop } | Should -Throw
        (Get-MyVm -Name 'pb', 'pd').Status | Should -Be @('Running', 'Running') -Because 'names are resolved (and confirmed) before the first VM is stopped'
        Stop-MyVm -Name 'pb', 'pd' -Force -ErrorAction Stop
    }
}

Describe 'Catching errors' {
    It 'catch by FullyQualifiedErrorId and by exception type, with the error kind' {
        $id = $kind = $null
        try { Start-MyVm -Name 'nope' -ErrorAction Stop } catch { $id = $_.FullyQualifiedErrorId }
        $id | Should -Be 'VmNotFound,MyHypervisor.PowerShell.Commands.StartMyVmCommand'
        try { Get-MyVm -Name 'nope' -ErrorAction Stop } catch [MyHypervisor.Core.Errors.MyHvException] { $kind = $_.Exception.Kind }
        "$kind" | Should -Be 'VmNotFound'
    }

    It 'non-terminating errors do not stop a script; -ErrorAction Stop makes them terminating' {
        $goesOn = & { Get-MyVm -Name 'nope' -ErrorAction SilentlyContinue; 'went on' }
        $goesOn | Should -Be 'went on'
        $stopped = $null
        try { $stopped = & { Get-MyVm -Name 'nope' -ErrorAction Stop; 'went on' } } catch { }
        $stopped | Should -BeNullOrEmpty
    }

    It '<Kind> from "<Command> <Label>" has category <Category> and the VM as target' -ForEach @(
        @{ Kind = 'VmNotFound'; Category = 'ObjectNotFound'; Target = 'nope'; Terminating = $false; Command = 'Get-MyVm'; Label = 'nope'; Parameters = @{ Name = 'nope' } }
        @{ Kind = 'InvalidVmName'; Category = 'InvalidArgument'; Target = 'Bad_Name'; Terminating = $false; Command = 'Stop-MyVm'; Label = 'Bad_Name'; Parameters = @{ Name = 'Bad_Name' } }
        @{ Kind = 'VmNotRunning'; Category = 'InvalidOperation'; Target = 'pa'; Terminating = $false; Command = 'Get-MyVmStats'; Label = 'of a stopped VM'; Parameters = @{ Name = 'pa' } }
        @{ Kind = 'InvalidVmName'; Category = 'InvalidArgument'; Target = 'Bad_Name'; Terminating = $true; Command = 'New-MyVm'; Label = 'Bad_Name'; Parameters = @{ Name = 'Bad_Name' } }
        @{ Kind = 'InvalidVmName'; Category = 'InvalidArgument'; Target = 'pa'; Terminating = $true; Command = 'New-MyVm'; Label = 'with a taken name'; Parameters = @{ Name = 'pa' } }
        @{ Kind = 'InvalidVmSpec'; Category = 'InvalidArgument'; Target = 'pz'; Terminating = $true; Command = 'New-MyVm'; Label = '-Cpus 0'; Parameters = @{ Name = 'pz'; Cpus = 0 } }
        @{ Kind = 'ImageNotFound'; Category = 'ObjectNotFound'; Target = 'pz'; Terminating = $true; Command = 'New-MyVm'; Label = 'with an unknown image'; Parameters = @{ Name = 'pz'; Image = 'no-such-image' } }
    ) {
        $err = $null
        $thrown = $null
        try { & $Command @Parameters -ErrorVariable err -ErrorAction SilentlyContinue } catch { $thrown = $_ }
        if ($Terminating) {
            $thrown | Should -Not -BeNullOrEmpty -Because 'a bad invocation is a terminating error, whatever -ErrorAction says'
            $record = $thrown
        }
        else {
            $thrown | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $record = $err[0]
        }
        $record.FullyQualifiedErrorId | Should -BeLike "$Kind,MyHypervisor.PowerShell.Commands.*"
        $record.CategoryInfo.Category | Should -Be $Category
        $record.TargetObject | Should -Be $Target
        Get-MyVm -Name 'pz' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'VmBusy (another command holds the VM) has category ResourceBusy and says what to do' {
        $lock = [System.IO.File]::Open((Join-Path $vmHome 'locks/pa.lock'), 'OpenOrCreate', 'ReadWrite', 'None')
        try {
            $err = $null
            Start-MyVm -Name 'pa' -ErrorVariable err -ErrorAction SilentlyContinue
        }
        finally { $lock.Dispose() }
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmBusy,*'
        $err[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        $err[0].TargetObject | Should -Be 'pa'
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'try again'
        (Get-MyVm -Name 'pa').Status | Should -Be 'Stopped'
    }
}
