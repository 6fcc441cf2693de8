# Runner: host-exclusive
<#
Names, tags, addresses and kernel arguments are matched to the end of the string, and only plain
IPv4 dotted quads are addresses. Each rule is shown to refuse what the old ones let through
('$' matched before a trailing newline; IPAddress.TryParse took IPv6 with scope text, "10.1",
hex and octal), with its contract id, and to leave the home unchanged. The address rules need a
bridge that exists, so they run in a child pwsh inside a test-made network namespace with br0.
A definition edited by hand is refused at Start-MyVm before anything exists, and what a real
guest receives on its kernel command line is exactly the whitelisted parts.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $script:scratch = New-MyHvTestDir -Prefix 'mhI'

    # One terminating error with the id, a message matching, and no change under the home.
    function Assert-Refused {
        param([scriptblock] $Script, [string] $Id, [string] $Match)
        $before = Get-MyHvTreeSnapshot -Path $script:testHome -IdentityOnly 'vms/kargs/console.log'
        $r = Invoke-MyHvCapture $Script
        $after = Get-MyHvTreeSnapshot -Path $script:testHome -IdentityOnly 'vms/kargs/console.log'
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $r.Errors[0].Exception.Message | Should -Match $Match
        $after | Should -Be $before
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'End-of-string anchors' {
    It 'refuses a name with a trailing newline: <Label>' -TestCases @(
        @{ Label = 'LF'; Name = "web`n" }
        @{ Label = 'CR LF'; Name = "web`r`n" }
        @{ Label = 'LF in the middle'; Name = "web`nx" }
    ) {
        Assert-Refused -Script { New-MyVm -Name $Name } -Id 'InvalidVmName' -Match 'not a valid VM name'
        $null = New-MyVm -Name 'web' -ErrorAction Stop
        try {
            # A lookup by that name is no second VM named like 'web'.
            $r = Invoke-MyHvCapture { Get-MyVm -Name $Name }
            $r.Output | Should -BeNullOrEmpty
            $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmName,*'
            @(Get-ChildItem -LiteralPath (Join-Path $script:testHome 'vms') -Directory).Name | Should -Be @('web')
        }
        finally { Remove-MyVm -Name 'web' -Force }
    }

    It 'refuses a volume tag with a trailing newline (it would split the kernel command line)' {
        $dir = (New-Item -ItemType Directory -Path (Join-Path $script:scratch 'tagged')).FullName
        Assert-Refused -Script { New-MyVm -Name 'tagnl' -Network None -Volume @{ Path = $dir; Tag = "data`n" } } -Id 'InvalidVmSpec' -Match "volume tag 'data"
        Assert-Refused -Script { New-MyVm -Name 'tagnl' -Network None -Volume @{ Path = $dir; Tag = "data`ninit=/bin/sh" } } -Id 'InvalidVmSpec' -Match 'volume tag'
    }

    It 'refuses KernelArguments with a newline: <Label>' -TestCases @(
        @{ Label = 'trailing'; KernelArgs = "quiet`n" }
        @{ Label = 'a second line'; KernelArgs = "quiet`ninit=/bin/sh" }
    ) {
        Assert-Refused -Script { New-MyVm -Name 'karg' -KernelArguments $KernelArgs } -Id 'InvalidVmSpec' -Match 'KernelArguments'
    }

    It 'refuses a volume folder whose name holds a newline, naming the character, though the folder exists' {
        $dir = Join-Path $script:scratch "new`nline"
        $null = New-Item -ItemType Directory -Path $dir
        Test-Path -LiteralPath $dir -PathType Container | Should -BeTrue
        Assert-Refused -Script { New-MyVm -Name 'volnl' -Network None -Volume @{ Path = $dir; Tag = 'nl' } } -Id 'InvalidVmSpec' -Match 'newline \(U\+000A\)'
        $tab = Join-Path $script:scratch "ta`tb"
        $null = New-Item -ItemType Directory -Path $tab
        Assert-Refused -Script { New-MyVm -Name 'voltab' -Network None -Volume @{ Path = $tab; Tag = 'tb' } } -Id 'InvalidVmSpec' -Match 'tab \(U\+0009\)'
    }
}

Describe 'Plain IPv4 addresses only (bridge br0 in a test namespace)' {
    BeforeAll {
        $script:ns = New-MyHvTestNamespace
        $script:nsHome = New-MyHvTestDir -Prefix 'mhN'
        # Every value in one child: New-MyVm with it, the outcome as 'ok' or the error id and message.
        $gateways = @('10.77.0.1', "10.77.0.1`n", 'fe80::1%x panic=0', '::1', '10.1', '0x0a.77.0.1', '010.77.0.1',
            '10.77.0.256', ' 10.77.0.1', '10.77.0.1 ', '10.77.0.1 init=/bin/sh', '10.77.0.1/24', '१०.77.0.1')
        $addresses = @('10.77.0.5/24', '10.77.0.5/32', '10.77.0.5/1', '10.77.0.5', '10.77.0.5/33', '10.77.0.5/0', '10.77.0.5/+24',
            '10.77.0.5/ 24', '10.77.0.5/024', "10.77.0.5/24`n", 'fe80::5/64', '10.77.5/24', '10.77.0.5/24 panic=0')
        $body = @'
$i = 0
foreach ($pair in $cases) {
    $i++
    $name = "ip$i"
    try {
        $null = New-MyVm -Name $name -Bridge br0 -IPAddress $pair.A -Gateway $pair.G -ErrorAction Stop
        $r["$i"] = 'ok'
        Remove-MyVm -Name $name -Force
    } catch { $r["$i"] = "$($_.FullyQualifiedErrorId.Split(',')[0]): $($_.Exception.Message)" }
}
'@
        $cases = @(foreach ($g in $gateways) { @{ A = '10.77.0.5/24'; G = $g } }) + @(foreach ($a in $addresses) { @{ A = $a; G = $null } })
        $script:cases = $cases
        $json = ConvertTo-Json -InputObject $cases -Compress -Depth 3
        $script:child = Invoke-MyHvChild -Namespace $script:ns -Environment @{ MYHV_HOME = $script:nsHome } -Body (
            "`$cases = ConvertFrom-Json -InputObject '$($json.Replace("'", "''"))'`n" + $body)
        $script:outcome = $script:child.Result
    }
    AfterAll {
        Complete-MyHvTestSuite -HomePath $script:nsHome -Namespace $script:ns -CensusOnly
    }

    It 'the child ran every case' {
        Assert-MyHvChildRan -Run $script:child
        @($script:outcome.PSObject.Properties).Count | Should -Be $script:cases.Count
    }

    It 'accepts only a plain dotted quad as Gateway, refuses <Value>' -TestCases @(
        @{ Index = 2; Value = 'a trailing newline' }
        @{ Index = 3; Value = 'IPv6 with scope text and a kernel parameter' }
        @{ Index = 4; Value = 'IPv6' }
        @{ Index = 5; Value = '"10.1" (two parts)' }
        @{ Index = 6; Value = 'a hex part' }
        @{ Index = 7; Value = 'a leading zero (octal)' }
        @{ Index = 8; Value = 'a part over 255' }
        @{ Index = 9; Value = 'a leading space' }
        @{ Index = 10; Value = 'a trailing space' }
        @{ Index = 11; Value = 'a second kernel parameter' }
        @{ Index = 12; Value = 'a prefix' }
        @{ Index = 13; Value = 'non-ASCII digits' }
    ) {
        $script:outcome.'1' | Should -Be 'ok' -Because 'the plain gateway 10.77.0.1 is accepted'
        $script:outcome."$Index" | Should -Match '(?s)^InvalidVmSpec: .*Gateway .* is not a plain IPv4 address'
    }

    It 'accepts only a dotted quad with a prefix 1-32 as IPAddress, refuses <Value>' -TestCases @(
        @{ Index = 4; Value = 'no prefix' }
        @{ Index = 5; Value = 'prefix 33' }
        @{ Index = 6; Value = 'prefix 0' }
        @{ Index = 7; Value = 'a signed prefix' }
        @{ Index = 8; Value = 'a space in the prefix' }
        @{ Index = 9; Value = 'a leading zero in the prefix' }
        @{ Index = 10; Value = 'a trailing newline' }
        @{ Index = 11; Value = 'IPv6' }
        @{ Index = 12; Value = 'three parts' }
        @{ Index = 13; Value = 'a second kernel parameter' }
    ) {
        $offset = 13
        foreach ($ok in 1, 2, 3) { $script:outcome."$($offset + $ok)" | Should -Be 'ok' }
        $script:outcome."$($offset + $Index)" | Should -Match '(?s)^InvalidVmSpec: .*IPAddress .* is not a plain IPv4 address with a prefix'
    }
}

Describe 'A definition edited by hand' {
    It 'is refused by Start-MyVm with InvalidVmSpec before anything exists: <Label>' -TestCases @(
        @{ Label = 'a Gateway with a second kernel parameter'; Edit = { param($d) $d.network | Add-Member -Force gateway '10.0.2.2 init=/bin/sh' }; Match = 'Gateway' }
        @{ Label = 'an IPAddress with a newline'; Edit = { param($d) $d.network | Add-Member -Force address "10.0.2.15/24`ninit=/bin/sh" }; Match = 'IPAddress' }
        @{ Label = 'KernelArguments outside the whitelist'; Edit = { param($d) $d | Add-Member -Force kernelArguments 'init=/bin/sh;reboot' }; Match = 'KernelArguments' }
    ) {
        $null = New-MyVm -Name 'edited' -ErrorAction Stop
        try {
            $file = Join-Path $script:testHome 'vms/edited/definition.json'
            $definition = Get-Content -LiteralPath $file -Raw | ConvertFrom-Json
            & $Edit $definition
            Set-Content -LiteralPath $file -Value ($definition | ConvertTo-Json -Depth 6)
            $before = Get-MyHvTreeSnapshot -Path $script:testHome
            $r = Invoke-MyHvCapture { Start-MyVm -Name 'edited' }
            $r.Errors.Count | Should -Be 1
            $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVmSpec,*'
            $r.Errors[0].Exception.Message | Should -Match $Match
            $after = Get-MyHvTreeSnapshot -Path $script:testHome
            $after | Should -Be $before -Because 'nothing may be created or changed'
            @(Get-MyHvProcess -IncludeZombie -Marker (Join-Path $script:testHome 'run/edited')) | Should -BeNullOrEmpty
        }
        finally { Remove-MyVm -Name 'edited' -Force }
    }
}

Describe 'What reaches a real guest''s kernel command line' {
    It 'is the image''s own line, the module''s myhv.* values and the whitelisted KernelArguments, nothing else' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64' -Condition { Get-Command qemu-system-x86_64 -ErrorAction Ignore }
        $vm = New-MyVm -Name 'kargs' -KernelArguments 'loglevel=3 myhv_extra=a,b:c.d' -ErrorAction Stop
        try {
            Start-MyVm -Name 'kargs' -ErrorAction Stop
            $running = Get-MyVm -Name 'kargs'
            $argv = [System.IO.File]::ReadAllText("/proc/$($running.Pid)/cmdline").Split([char] 0)
            $append = $argv[[array]::IndexOf($argv, '-append') + 1]
            $imagePath = (Get-Content -LiteralPath (Join-Path $script:testHome 'vms/kargs/definition.json') -Raw | ConvertFrom-Json).imagePath
            $image = Get-Content -LiteralPath (Join-Path $imagePath 'image.json') -Raw | ConvertFrom-Json
            $append | Should -BeExactly "$($image.CommandLine) myhv.name=kargs myhv.net=10.0.2.15/24,10.0.2.2 loglevel=3 myhv_extra=a,b:c.d"
        }
        finally { Remove-MyVm -Name 'kargs' -Force }
    }
}
