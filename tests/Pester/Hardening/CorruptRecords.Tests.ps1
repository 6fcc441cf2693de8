# A VM whose record cannot be read (invalid JSON, nulls, missing fields, wrong types) is listed by
# Get-MyVm as Failed with a reason naming the file and the field, never stops the listing of the
# others (one corrupt VM among five: all five listed, no error), and Remove-MyVm -Force removes it
# and its leftovers (a live QEMU and its runtime folder included). A removal that fails half-way
# (an immutable console.log) leaves a VM that Get-MyVm lists as Failed, that New-MyVm reports as
# existing with advice, and that the next Remove-MyVm or Repair-MyVm finishes.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:names = 'va', 'vb', 'vc', 'vd', 've'
    foreach ($n in $names) { $null = New-MyVm -Name $n -Image tiny -MemoryMiB 128 -ErrorAction Stop }
    $script:victim = 'vc'
    $script:paths = Get-MyHvVmPath -HomePath $vmHome -Name $victim
    $script:definitionFile = Join-Path $paths.VmDir 'definition.json'
    $script:goodDefinition = Get-Content -Raw -LiteralPath $definitionFile
    $script:goodState = Get-Content -Raw -LiteralPath $paths.State

    function Set-Json {
        # Edits one field of a JSON file: -Value $null writes null, -Remove drops the field, -Raw replaces the text.
        param([string] $File, [string] $Field, $Value, [switch] $Remove, [string] $Raw, [string] $Sub)
        if ($Raw) { Set-Content -LiteralPath $File -Value $Raw -NoNewline; return }
        $doc = Get-Content -Raw -LiteralPath $File | ConvertFrom-Json -AsHashtable
        $target = if ($Sub) { $doc[$Sub] } else { $doc }
        if ($Remove) { $target.Remove($Field) } else { $target[$Field] = $Value }
        Set-Content -LiteralPath $File -Value ($doc | ConvertTo-Json -Depth 10)
    }
}

AfterAll {
    if ($script:vmHome) {
        & chattr -R -i -- $script:vmHome 2>$null
        Complete-MyHvTestSuite -RemoveHome -HomePath $script:vmHome
    }
}

Describe 'Unreadable records' {

    It '<Case>: Get-MyVm lists all five VMs, the corrupt one Failed with a reason naming <File> and <Field>; Remove-MyVm -Force removes it' -ForEach @(
        @{ Case = 'invalid JSON in state.json'; File = 'state.json'; Field = 'corrupt'; Edit = 'state-raw'; Value = '{"status": "Stopped", "artifacts": [' }
        @{ Case = '"artifacts": null'; File = 'state.json'; Field = "'artifacts'"; Edit = 'state'; Key = 'artifacts'; Value = $null }
        @{ Case = '"artifacts": a string'; File = 'state.json'; Field = '\$\.artifacts'; Edit = 'state'; Key = 'artifacts'; Value = 'rm -rf /' }
        @{ Case = 'an artifact that is null'; File = 'state.json'; Field = "'artifacts\[0\]'"; Edit = 'state'; Key = 'artifacts'; Value = @($null) }
        @{ Case = '"status": a number that names no status'; File = 'state.json'; Field = "'status'"; Edit = 'state'; Key = 'status'; Value = 42 }
        @{ Case = '"network": null'; File = 'definition.json'; Field = "'network'"; Edit = 'definition'; Key = 'network'; Value = $null }
        @{ Case = '"volumes": null'; File = 'definition.json'; Field = "'volumes'"; Edit = 'definition'; Key = 'volumes'; Value = $null }
        @{ Case = '"cpus": a string'; File = 'definition.json'; Field = '\$\.cpus'; Edit = 'definition'; Key = 'cpus'; Value = 'two' }
        @{ Case = 'no "name" field'; File = 'definition.json'; Field = 'name'; Edit = 'definition-remove'; Key = 'name' }
        @{ Case = 'invalid JSON in definition.json'; File = 'definition.json'; Field = 'corrupt'; Edit = 'definition-raw'; Value = '{"name": "vc", ' }
        @{ Case = 'an empty definition.json'; File = 'definition.json'; Field = 'corrupt'; Edit = 'definition-raw'; Value = ' ' }
        @{ Case = 'definition.json missing'; File = 'definition.json'; Field = 'missing'; Edit = 'definition-delete' }
    ) {
        # Each case starts from a fresh, readable VM (whatever the case before it left).
        if (Test-Path -LiteralPath $paths.VmDir) { Remove-Item -LiteralPath $paths.VmDir -Recurse -Force }
        $null = New-MyVm -Name $victim -Image tiny -MemoryMiB 128 -ErrorAction Stop
        # A leftover of an earlier run: the runtime folder with a stale pid file.
        $null = New-Item -ItemType Directory -Path $paths.RunDir -Force
        Set-Content -LiteralPath $paths.PidFile -Value '999999'
        switch ($Edit) {
            'state-raw' { Set-Json -File $paths.State -Raw $Value }
            'state' { Set-Json -File $paths.State -Field $Key -Value $Value }
            'definition' { Set-Json -File $definitionFile -Field $Key -Value $Value }
            'definition-remove' { Set-Json -File $definitionFile -Field $Key -Remove }
            'definition-raw' { Set-Json -File $definitionFile -Raw $Value }
            'definition-delete' { Remove-Item -LiteralPath $definitionFile }
        }

        $errors = $null
        $all = @(Get-MyVm -ErrorVariable errors -ErrorAction SilentlyContinue)
        @($errors) | Should -BeNullOrEmpty -Because 'one corrupt VM is no error for the listing'
        @($all | ForEach-Object Name) | Should -Be $names
        @($all | Where-Object Name -NE $victim | ForEach-Object { "$($_.Status)" } | Select-Object -Unique) | Should -Be @('Stopped')
        $bad = $all | Where-Object Name -EQ $victim
        "$($bad.Status)" | Should -Be 'Failed'
        $bad.StatusReason | Should -Match ([regex]::Escape((Join-Path $paths.VmDir $File)))
        $bad.StatusReason | Should -Match $Field
        $bad.GetType().FullName | Should -Be 'MyHypervisor.Core.Vms.VmInfo'
        # By name too, and through the pipeline.
        "$((Get-MyVm -Name $victim -ErrorAction Stop).Status)" | Should -Be 'Failed'
        @(Get-MyVm -Name 'v*') | Should -HaveCount 5

        # Acting on it is a clear error with the contract id, no raw .NET exception.
        { Start-MyVm -Name $victim -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        { Remove-MyVm -Name $victim -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'

        Remove-MyVm -Name $victim -Force -Confirm:$false -ErrorAction Stop
        $paths.VmDir | Should -Not -Exist
        $paths.RunDir | Should -Not -Exist -Because 'its leftovers go with it'
        @(Get-MyVm | ForEach-Object Name) | Should -Be ($names | Where-Object { $_ -ne $victim })
    }

    It 'a running VM whose state.json gets "artifacts": null: Failed with the reason, and Remove-MyVm -Force ends its QEMU and removes its runtime folder' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        if (Test-Path -LiteralPath $paths.VmDir) { Remove-Item -LiteralPath $paths.VmDir -Recurse -Force }
        $null = New-MyVm -Name $victim -Image tiny -MemoryMiB 128 -ErrorAction Stop
        Start-MyVm -Name $victim -ErrorAction Stop
        $qemu = (Get-MyVm -Name $victim).Pid
        Test-MyHvProcessAlive -ProcessId $qemu | Should -BeTrue
        Set-Json -File $paths.State -Field 'artifacts' -Value $null

        $info = Get-MyVm -Name $victim -ErrorAction Stop
        "$($info.Status)" | Should -Be 'Failed'
        $info.StatusReason | Should -Match "state\.json.*'artifacts' is null"
        @(Get-MyVm) | Should -HaveCount 5

        Remove-MyVm -Name $victim -Force -Confirm:$false -ErrorAction Stop
        Wait-MyHvCondition -TimeoutSeconds 30 -Because 'its QEMU to be gone' -Condition { -not (Test-MyHvProcessAlive -ProcessId $qemu) }.GetNewClosure()
        $paths.VmDir | Should -Not -Exist
        @(Get-MyHvVmResidue -HomePath $vmHome -Name $victim) | Should -BeNullOrEmpty
    }
}

Describe 'A removal that fails half-way' {

    It 'an immutable console.log stops Remove-MyVm with StateWriteFailed naming it; Get-MyVm lists the VM as Failed; New-MyVm says it exists; <Finisher> finishes the removal' -ForEach @(
        @{ Finisher = 'Remove-MyVm' }
        @{ Finisher = 'Repair-MyVm' }
    ) {
        Skip-UnlessPrerequisite -Name 'chattr (e2fsprogs) on an ext2/3/4 test folder' -Condition { Get-Command chattr -ErrorAction Ignore }
        if (-not (Test-Path -LiteralPath $paths.VmDir)) { $null = New-MyVm -Name $victim -Image tiny -MemoryMiB 128 -ErrorAction Stop }
        Set-Content -LiteralPath $paths.Console -Value 'boot log'
        & chattr +i -- $paths.Console
        $LASTEXITCODE | Should -Be 0 -Because 'precondition: the file system supports the immutable flag'
        try {
            $err = $null
            Remove-MyVm -Name $victim -Force -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err
            @($err) | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'StateWriteFailed*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($paths.Console))
            $err[0].Exception.Message | Should -Match 'Operation not permitted'

            $listed = @(Get-MyVm -ErrorAction Stop)
            @($listed | ForEach-Object Name) | Should -Contain $victim -Because 'a half-removed VM is still visible'
            $half = $listed | Where-Object Name -EQ $victim
            "$($half.Status)" | Should -Be 'Failed'
            $half.StatusReason | Should -Match 'removal did not finish'
            { New-MyVm -Name $victim -Image tiny -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmName*' -ExpectedMessage '*removal did not finish*'
            { Start-MyVm -Name $victim -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidVmSpec*'
        }
        finally { & chattr -i -- $paths.Console }

        if ($Finisher -eq 'Remove-MyVm') { Remove-MyVm -Name $victim -Confirm:$false -ErrorAction Stop }
        else {
            $repair = @(Repair-MyVm -ErrorAction Stop | Where-Object Name -EQ $victim)
            $repair | Should -HaveCount 1
            ($repair[0].Removed -join "`n") | Should -Match 'removal that had not finished'
        }
        $paths.VmDir | Should -Not -Exist
        @(Get-MyVm | ForEach-Object Name) | Should -Not -Contain $victim
        $null = New-MyVm -Name $victim -Image tiny -MemoryMiB 128 -ErrorAction Stop
        "$((Get-MyVm -Name $victim).Status)" | Should -Be 'Stopped'
    }
}
