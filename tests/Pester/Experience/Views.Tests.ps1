# Issue 6, point 2: the format views (MyHypervisor.Format.ps1xml) as a user sees them, asserted on
# rendered text. A VM table has the useful columns in human units; a stats table shows CPU seconds
# and memory, disk and network in human units; Format-List shows every property; the views also
# apply to deserialized objects (Import-Clixml, remoting), and Test-MyVmHost's table never hides
# a remedy. One real boot (stats exist only for a running VM).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite

    function Format-MyHvBytes {
        # The test's own statement of the human units the views promise (independent of HumanUnits.cs):
        # binary units, one decimal below 10, none from 10 up; plain bytes below 1 KiB.
        param([long] $Bytes)
        if ($Bytes -lt 1024) { return "$Bytes B" }
        $units = 'KiB', 'MiB', 'GiB', 'TiB'
        $value = [double] $Bytes
        $i = -1
        while ($value -ge 1024 -and $i -lt $units.Count - 1) { $value /= 1024; $i++ }
        $format = if ($value -lt 10) { '0.0' } else { '0' }
        $value.ToString($format, [cultureinfo]::InvariantCulture) + ' ' + $units[$i]
    }

    function Get-TableRow {
        # The one rendered line of a table that starts with the VM's name.
        param([string] $Text, [string] $Name)
        $rows = @($Text -split "`r?`n" | Where-Object { $_ -match "^$([regex]::Escape($Name))\s" })
        if ($rows.Count -ne 1) { throw "expected one row for '$Name', found $($rows.Count) in:`n$Text" }
        $rows[0]
    }
    function Get-Header {
        param([string] $Text)
        @($Text -split "`r?`n" | Where-Object { $_.Trim() })[0]
    }

    $null = New-MyVm -Name 'vrun' -ErrorAction Stop                             # 256 MiB, 1 CPU
    $null = New-MyVm -Name 'vbig' -MemoryMiB 1536 -Cpus 2 -ErrorAction Stop      # 1.5 GiB
    $null = New-MyVm -Name 'vmid' -MemoryMiB 512 -ErrorAction Stop
    $null = Start-MyVm -Name 'vrun' -ErrorAction Stop
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:vmHome
}

Describe 'The VM table' {
    BeforeAll {
        $script:vms = @(Get-MyVm -ErrorAction Stop)
        $script:table = $vms | Format-Table | Out-String -Width 200
    }

    It 'has the columns Name, Status, CPUs, Memory, Hypervisor, Uptime in that order' {
        $header = Get-Header $table
        $columns = @($header -split '\s+' | Where-Object { $_ })
        $expected = 'Name', 'Status', 'CPUs', 'Memory', 'Hypervisor', 'Uptime'
        $positions = foreach ($column in $expected) { [array]::IndexOf($columns, $column) }
        $positions | Should -Not -Contain -1 -Because "the header '$header' must name every column"
        ($positions | Sort-Object) -join ',' | Should -Be ($positions -join ',') -Because 'the columns come in this order'
    }

    It 'is the default view: the VMs rendered without Format-Table give the same table' {
        ($vms | Out-String -Width 200) | Should -Be $table
    }

    It 'shows memory in human units (<MiB> MiB as <Shown>)' -ForEach @(
        @{ Name = 'vrun'; MiB = 256; Shown = '256 MiB' }
        @{ Name = 'vmid'; MiB = 512; Shown = '512 MiB' }
        @{ Name = 'vbig'; MiB = 1536; Shown = '1.5 GiB' }
    ) {
        $row = Get-TableRow $table $Name
        $row | Should -Match "\s$([regex]::Escape($Shown))\s+qemu\b" -Because "$MiB MiB is shown as '$Shown' in the Memory column"
    }

    It 'shows status, CPUs and hypervisor of each VM' {
        $row = (Get-TableRow $table 'vbig')
        $row | Should -Match '^vbig\s+Stopped\s+2\s+1\.5 GiB\s+qemu\b'
        (Get-TableRow $table 'vrun') | Should -Match '^vrun\s+Running\s+1\s+256 MiB\s+qemu\b'
    }

    It 'shows the uptime of a running VM in human units, and none for a stopped one' {
        $run = (Get-TableRow $table 'vrun')
        $run | Should -Match 'qemu\s+(\d+d \d+h \d+m|\d+h \d+m|\d+m \d+s|\d+s)\b' -Because 'uptime reads like 12s or 3m 4s'
        $run | Should -Not -Match '\d\d:\d\d:\d\d' -Because 'not a raw TimeSpan'
        $stopped = (Get-TableRow $table 'vmid')
        $stopped | Should -Not -Match 'qemu\s+\d+[smhd]\b'
    }

    It 'applies to deserialized VMs too (Export-Clixml / remoting)' {
        $file = Join-Path $TestDrive 'vms.xml'
        $vms | Export-Clixml -LiteralPath $file
        $imported = @(Import-Clixml -LiteralPath $file)
        $imported[0].pstypenames[0] | Should -Be 'Deserialized.MyHypervisor.Core.Vms.VmInfo'
        $text = $imported | Format-Table | Out-String -Width 200
        (Get-TableRow $text 'vbig') | Should -Match '1\.5 GiB'
        (Get-Header $text) | Should -Match 'Name\s+Status\s+CPUs\s+Memory\s+Hypervisor\s+Uptime'
    }
}

Describe 'The VM list' {
    It 'shows every property of the VM (nothing hidden by the view)' {
        $vm = Get-MyVm -Name 'vrun' -ErrorAction Stop
        $text = $vm | Format-List | Out-String -Width 300
        $properties = [MyHypervisor.Core.Vms.VmInfo].GetProperties().Name
        $properties.Count | Should -BeGreaterThan 15
        foreach ($property in $properties) {
            $text | Should -Match "(?m)^$property\s*:" -Because "Format-List must show $property"
        }
        $text | Should -Match "(?m)^Pid\s*:\s*$($vm.Pid)\s*$"
        $text | Should -Match "(?m)^MemoryMiB\s*:\s*256\s*$"
        $text | Should -Match "(?m)^Path\s*:\s*$([regex]::Escape($vm.Path))\s*$"
        $text | Should -Match '(?m)^Uptime\s*:\s*\d+[smhd]' -Because 'uptime in human units'
    }

    It 'shows volumes readably, one per line' {
        $null = New-MyVm -Name 'vvol' -Volume @(
            @{ Path = "$TestDrive"; Tag = 'data'; ReadOnly = $true }
            @{ Path = "$TestDrive"; Tag = 'logs' }) -ErrorAction Stop
        $text = Get-MyVm -Name 'vvol' | Format-List | Out-String -Width 300
        $text | Should -Match "(?m)^Volumes\s*:\s*$([regex]::Escape("$TestDrive")) -> /mnt/data \(ro\)\s*$"
        $text | Should -Match "(?m)^\s+$([regex]::Escape("$TestDrive")) -> /mnt/logs\s*$"
        Remove-MyVm -Name 'vvol' -Confirm:$false -ErrorAction Stop
    }

    It 'shows why a VM failed (StatusReason in full)' {
        $null = New-MyVm -Name 'vfail' -ErrorAction Stop
        $env:MYHV_FAILPOINTS = 'start.guest-channel=error'
        try { Start-MyVm -Name 'vfail' -ErrorAction SilentlyContinue } finally { $env:MYHV_FAILPOINTS = $null }
        $vm = Get-MyVm -Name 'vfail' -ErrorAction Stop
        $vm.Status | Should -Be 'Failed'
        $text = $vm | Format-List | Out-String -Width 400
        $text | Should -Match '(?m)^Status\s*:\s*Failed'
        $text | Should -Match "(?m)^StatusReason\s*:.*guest-channel"
    }
}

Describe 'The stats views' {
    BeforeAll {
        $script:stats = Get-MyVmStats -Name 'vrun' -ErrorAction Stop
        $script:statsTable = $stats | Format-Table | Out-String -Width 200
    }

    It 'has the columns CPU (s), Memory, Disk read/write, Net rx/tx, Uptime' {
        Get-Header $statsTable | Should -Match '^Name\s+Status\s+CPU \(s\)\s+Memory\s+Disk read\s+Disk write\s+Net rx\s+Net tx\s+Uptime\s*$'
    }

    It 'shows CPU seconds as a number and every byte count in human units' {
        $row = (Get-TableRow $statsTable 'vrun')
        $cpu = [math]::Round($stats.CpuSeconds, 2).ToString([cultureinfo]::CurrentCulture)
        $expected = @(
            'vrun', 'Running', [regex]::Escape($cpu)
            [regex]::Escape((Format-MyHvBytes $stats.MemoryRssBytes))
            [regex]::Escape((Format-MyHvBytes $stats.DiskReadBytes))
            [regex]::Escape((Format-MyHvBytes $stats.DiskWriteBytes))
            [regex]::Escape((Format-MyHvBytes $stats.NetRxBytes))
            [regex]::Escape((Format-MyHvBytes $stats.NetTxBytes))
        ) -join '\s+'
        $row | Should -Match "^$expected\s+\d+[smhd]"
        $stats.MemoryRssBytes | Should -BeGreaterThan 1MB -Because 'a running QEMU has a real resident set'
        $row | Should -Match '\d (MiB|GiB)\b'
        $row | Should -Not -Match "\b$($stats.MemoryRssBytes)\b" -Because 'no raw byte counts in the table'
    }

    It 'is the default view of Get-MyVmStats' {
        ($stats | Out-String -Width 200) | Should -Be $statsTable
    }

    It 'lists every stats property in Format-List' {
        $text = $stats | Format-List | Out-String -Width 300
        foreach ($property in [MyHypervisor.Core.Stats.VmStats].GetProperties().Name) {
            $text | Should -Match "(?m)^$property\s*:" -Because "Format-List must show $property"
        }
        $text | Should -Match "(?m)^MemoryRssBytes\s*:\s*$($stats.MemoryRssBytes)\s*$" -Because 'the list keeps exact byte counts'
    }
}

Describe 'The Test-MyVmHost table' {
    It 'shows the remedy of a failing check in full, even next to a long detail' {
        $check = [MyHypervisor.Core.Host.HostCheck]@{
            Check = 'Qemu'; Ok = $false
            Detail = 'qemu-system-x86_64 not found on PATH, which is a rather long detail line that goes on and on and on'
            Remedy = 'apt-get install qemu-system-x86'
        }
        $text = $check | Out-String -Width 120
        Get-Header $text | Should -Match '^Check\s+Ok\s+Detail\s+Remedy'
        $text | Should -Match 'apt-get install qemu-system-x86'
        $text | Should -Not -Match '…' -Because 'nothing is cut off: long cells wrap'
    }
}
