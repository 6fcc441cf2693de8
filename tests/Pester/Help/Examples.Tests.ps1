# Runner: host-exclusive
<#
Runs every ```powershell block of docs/cmdlets/*.md (the cmdlet pages' examples and the module
page's quick start), one test each, exactly as written, in a fresh MYHV_HOME with the built module
imported and $ErrorActionPreference = 'Stop': an example passes when it runs without an error.
Afterwards every VM the example made is removed and nothing of it may be left (VMs, processes,
sockets, TAP devices, jobs, network devices it named, environment variables it changed).
#>

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $examples = @(Get-MyHvDocExample | ForEach-Object {
            @{ File = $_.File; Line = $_.Line; Title = $_.Title; Code = $_.Code }
        })
    if ($examples.Count -eq 0) { throw 'No ```powershell examples found in docs/cmdlets' }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    # Every example gets a fresh home; without this each would spend ~4 s probing KVM (which
    # hangs on this machine). The probe has its own tests; the examples do not depend on it.
    $script:savedAccel = $env:MYHV_ACCEL
    $env:MYHV_ACCEL = 'tcg'
    $script:hostChecks = @{}
    $probeHome = New-MyHvTestHome
    Test-MyVmHost | ForEach-Object { $script:hostChecks[$_.Check] = $_.Ok }
    Remove-Item -LiteralPath $probeHome -Recurse -Force

    function Get-MyHvEnvironmentSnapshot {
        # Process environment variables, to undo what an example set or removed.
        $snapshot = @{}
        foreach ($entry in [Environment]::GetEnvironmentVariables().GetEnumerator()) { $snapshot[$entry.Key] = $entry.Value }
        $snapshot
    }

    function Restore-MyHvEnvironment {
        param([hashtable] $Snapshot)
        foreach ($name in @([Environment]::GetEnvironmentVariables().Keys)) {
            if (-not $Snapshot.ContainsKey($name)) { [Environment]::SetEnvironmentVariable($name, $null) }
        }
        foreach ($name in $Snapshot.Keys) {
            if ([Environment]::GetEnvironmentVariable($name) -ne $Snapshot[$name]) { [Environment]::SetEnvironmentVariable($name, $Snapshot[$name]) }
        }
    }
}

AfterAll {
    $env:MYHV_ACCEL = $script:savedAccel
}

Describe 'Example <File>:<Line> "<Title>"' -ForEach $examples {
    It 'runs without an error and leaves nothing behind' {
        # What the example needs from the host, so a missing install is named (and fails under CI=true).
        if ($Code -match '\bStart-MyVm\b') {
            Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { $script:hostChecks['Qemu'] -and $script:hostChecks['DefaultImage'] }
        }
        if ($Code -match '\bStart-MyVm\b' -and $Code -match '-Volume\b') {
            Skip-UnlessPrerequisite -Name 'virtiofsd' -Condition { $script:hostChecks['Virtiofsd'] }
        }
        if ($Code -match '\bNew-MyVmImage\b' -and $Code -notmatch '-WhatIf\b') {
            # Quick when the recipe's image exists (cached by hash); the first build takes minutes.
            Skip-UnlessPrerequisite -Name 'root and mmdebstrap (to build a Debian image)' -Condition {
                (& id -u) -eq '0' -and (Get-Command mmdebstrap -CommandType Application -ErrorAction Ignore) }
        }
        if ($Code -match '\bip link add\b') {
            Skip-UnlessPrerequisite -Name 'root (to create a bridge)' -Condition { (& id -u) -eq '0' }
        }

        $vmHome = New-MyHvTestHome
        $work = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $work
        $environment = Get-MyHvEnvironmentSnapshot
        $jobsBefore = @(Get-Job | ForEach-Object Id)
        $devicesBefore = @(Get-ChildItem -LiteralPath '/sys/class/net' | ForEach-Object Name)
        $failure = $null
        Push-Location -LiteralPath $work
        try {
            $ErrorActionPreference = 'Stop'
            $output = & ([scriptblock]::Create($Code)) | Out-String -Width 160
            Write-Verbose $output
        }
        catch {
            $failure = $_
        }
        finally {
            $ErrorActionPreference = 'Continue'
            Pop-Location
            Restore-MyHvEnvironment -Snapshot $environment
            $env:MYHV_HOME = $vmHome
            $strayJobs = @(Get-Job | Where-Object Id -NotIn $jobsBefore)
            $strayJobs | Remove-Job -Force
            Get-MyVm | Remove-MyVm -Force -Confirm:$false
        }
        if ($failure) { throw $failure }

        $strayJobs | ForEach-Object Name | Should -BeNullOrEmpty -Because 'an example cleans up its jobs'
        Get-MyVm | Should -BeNullOrEmpty -Because 'every VM was removed'
        Get-MyHvLeftover -HomePath $vmHome | Should -BeNullOrEmpty
        # Network devices the example created by name (such as a bridge) must be gone again.
        $newDevices = @(Get-ChildItem -LiteralPath '/sys/class/net' | ForEach-Object Name | Where-Object { $_ -notin $devicesBefore })
        @($newDevices | Where-Object { $Code -match "\b$([regex]::Escape($_))\b" }) | Should -BeNullOrEmpty
    }
}
