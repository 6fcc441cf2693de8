<#
Copy-MyVmFile on one real VM of the 'tiny' image under TCG: 20 MiB in and out with equal
SHA-256, an interrupted copy (the cmdlet stopped mid-way) leaving no partial destination in either
direction, and the clear errors (missing source, missing destination folder, existing
destination without -Force, no space left in the guest).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:module = Import-MyHvTestModule
    $script:testHome = New-MyHvTestHome
    $env:MYHV_ACCEL = 'tcg'
    Remove-Item Env:MYHV_FAILPOINTS -ErrorAction SilentlyContinue
    $null = Get-MyHvGuestImage
    $script:vm = 'gfile'
    $null = New-MyVm -Name $vm -Image tiny -MemoryMiB 256 -Network None | Start-MyVm -Wait -TimeoutSeconds 180
    $script:work = New-MyHvTestDir -Prefix 'mhF'
    $script:big = Join-Path $work 'big.bin'
    $bytes = [byte[]]::new(20MB)
    [Random]::new(20).NextBytes($bytes)
    [IO.File]::WriteAllBytes($big, $bytes)
    $script:bigHash = (Get-FileHash -LiteralPath $big -Algorithm SHA256).Hash.ToLowerInvariant()
    # Smaller, for the tests that are not about size (the agent moves 0.5-2.3 MiB/s into a TCG guest here).
    $script:mid = Join-Path $work 'mid.bin'
    [IO.File]::WriteAllBytes($mid, $bytes[0..(3MB - 1)])

    function Get-GuestListing([string] $Folder) {
        # Every entry of a guest folder, dot files included (a temporary .part would show here).
        (Invoke-MyVmCommand -Name $vm -FilePath /bin/ls -ArgumentList '-A', $Folder).StdOut -split "`n" | Where-Object { $_ }
    }

    function Stop-CopyMidway([string[]] $Arguments) {
        # Runs Copy-MyVmFile in a second runspace of this process and stops it (as Ctrl+C does)
        # once it reported progress past its first chunk; returns the records it left.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$($module.Path)'; Copy-MyVmFile $($Arguments -join ' ')")
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            while (-not $async.IsCompleted -and [DateTime]::UtcNow -lt $deadline) {
                if (@($ps.Streams.Progress | Where-Object { $_.PercentComplete -ge 10 -and $_.PercentComplete -lt 90 }).Count) { break }
                Start-Sleep -Milliseconds 50
            }
            $async.IsCompleted | Should -BeFalse -Because 'the copy must still be running when it is stopped'
            $ps.Stop()
            [pscustomobject]@{ State = $ps.InvocationStateInfo.State; Errors = @($ps.Streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'Copy-MyVmFile' {
    It 'copies 20 MiB into the guest; the guest''s sha256sum equals the host''s' {
        $copy = Copy-MyVmFile -Name $vm -Path $big -Destination /tmp/big.bin
        $copy.Direction | Should -Be 'ToGuest'
        $copy.Destination | Should -Be '/tmp/big.bin'
        $copy.Length | Should -Be 20MB
        $copy.Sha256 | Should -Be $bigHash
        (Invoke-MyVmCommand -Name $vm -FilePath sha256sum -ArgumentList /tmp/big.bin).StdOut | Should -BeLike "$bigHash *"
        Get-GuestListing /tmp | Where-Object { $_ -like '*.part' } | Should -BeNullOrEmpty
    }

    It 'copies it back out with -FromGuest; equal hashes' {
        $out = Join-Path $work 'back.bin'
        $copy = Copy-MyVmFile -Name $vm -Path /tmp/big.bin -Destination $out -FromGuest
        $copy.Direction | Should -Be 'FromGuest'
        $copy.Sha256 | Should -Be $bigHash
        (Get-FileHash -LiteralPath $out -Algorithm SHA256).Hash.ToLowerInvariant() | Should -Be $bigHash
        (Get-Item -LiteralPath $out).UnixFileMode | Should -Be ([IO.UnixFileMode] 'UserRead, UserWrite')
        @(Get-ChildItem -LiteralPath $work -Force -Filter '*.part') | Should -BeNullOrEmpty
    }

    It 'copies into an existing folder under the file''s own name, and shows a table' {
        $text = Copy-MyVmFile -Name $vm -Path $mid -Destination /data/ | Out-String
        $text | Should -Match "$vm\s+ToGuest\s+/data/mid.bin\s+3"
        Get-GuestListing /data | Should -Contain 'mid.bin'
        $null = Invoke-MyVmCommand -Name $vm -FilePath rm -ArgumentList /data/mid.bin
    }

    It 'reports progress while it copies' {
        # Progress goes to the host, not a stream that can be redirected: a runspace collects it.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$($module.Path)'; Copy-MyVmFile -Name $vm -Path '$mid' -Destination /tmp/progress.bin")
            $null = $ps.Invoke()
            $percents = @($ps.Streams.Progress | Where-Object RecordType -EQ 'Processing' | ForEach-Object PercentComplete)
            $percents.Count | Should -BeGreaterOrEqual 4 -Because 'one report per 1 MiB chunk, and the start'
            $percents[-1] | Should -Be 100
            $ps.Streams.Progress[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
        $null = Invoke-MyVmCommand -Name $vm -FilePath rm -ArgumentList /tmp/progress.bin
    }

    It 'stopped mid-way into the guest, it leaves no partial destination (and no temporary file)' {
        $stopped = Stop-CopyMidway @('-Name', $vm, '-Path', "'$big'", '-Destination', '/tmp/cut.bin')
        $stopped.State | Should -Be 'Stopped'
        $listing = Get-GuestListing /tmp
        $listing | Should -Not -Contain 'cut.bin'
        $listing | Where-Object { $_ -like '*.part' } | Should -BeNullOrEmpty
    }

    It 'stopped mid-way out of the guest, it leaves no partial destination on the host' {
        $target = Join-Path $work 'cut-out.bin'
        $stopped = Stop-CopyMidway @('-Name', $vm, '-Path', '/tmp/big.bin', '-Destination', "'$target'", '-FromGuest')
        $stopped.State | Should -Be 'Stopped'
        Test-Path -LiteralPath $target | Should -BeFalse
        @(Get-ChildItem -LiteralPath $work -Force -Filter '*.part') | Should -BeNullOrEmpty
    }

    It 'refuses an existing destination without -Force, and overwrites it with -Force' {
        $small = Join-Path $work 'small.txt'
        Set-Content -LiteralPath $small -Value 'first' -NoNewline
        $null = Copy-MyVmFile -Name $vm -Path $small -Destination /tmp/small.txt
        Set-Content -LiteralPath $small -Value 'second' -NoNewline
        { Copy-MyVmFile -Name $vm -Path $small -Destination /tmp/small.txt -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestCommandFailed,MyHypervisor.PowerShell.Commands.CopyMyVmFileCommand' -ExpectedMessage '*already exists*-Force*'
        (Invoke-MyVmCommand -Name $vm -FilePath cat -ArgumentList /tmp/small.txt).StdOut | Should -Be 'first'
        $null = Copy-MyVmFile -Name $vm -Path $small -Destination /tmp/small.txt -Force
        (Invoke-MyVmCommand -Name $vm -FilePath cat -ArgumentList /tmp/small.txt).StdOut | Should -Be 'second'
        $back = Join-Path $work 'small-back.txt'
        Set-Content -LiteralPath $back -Value 'host'
        { Copy-MyVmFile -Name $vm -Path /tmp/small.txt -Destination $back -FromGuest -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*already exists*-Force*'
        $null = Copy-MyVmFile -Name $vm -Path /tmp/small.txt -Destination $back -FromGuest -Force
        Get-Content -Raw -LiteralPath $back | Should -Be 'second'
    }

    It 'names a missing source (<Direction>)' -ForEach @(
        @{ Direction = 'ToGuest'; Arguments = @{ Path = '/no/such/file.bin'; Destination = '/tmp/x' }; Message = '*source file*does not exist on the host*' }
        @{ Direction = 'FromGuest'; Arguments = @{ Path = '/no/such/file.bin'; Destination = '/tmp/x'; FromGuest = $true }; Message = '*source file*does not exist in the guest*' }
    ) {
        { Copy-MyVmFile -Name $vm @Arguments -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestCommandFailed,MyHypervisor.PowerShell.Commands.CopyMyVmFileCommand' -ExpectedMessage $Message
    }

    It 'names a missing destination folder (both directions)' {
        { Copy-MyVmFile -Name $vm -Path $big -Destination /no/such/dir/big.bin -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*destination folder*does not exist in the guest*'
        { Copy-MyVmFile -Name $vm -Path /tmp/big.bin -Destination (Join-Path $work 'nodir/big.bin') -FromGuest -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*destination folder*does not exist on the host*'
    }

    It 'says when the guest has no space left, and leaves nothing behind' {
        $null = Invoke-MyVmCommand -Name $vm -Command 'mkdir -p /mnt/small && mount -t tmpfs -o size=2m tmpfs /mnt/small' -ErrorOnNonZeroExit -ErrorAction Stop
        { Copy-MyVmFile -Name $vm -Path $big -Destination /mnt/small/big.bin -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestCommandFailed,MyHypervisor.PowerShell.Commands.CopyMyVmFileCommand' -ExpectedMessage '*no space left*'
        Get-GuestListing /mnt/small | Should -BeNullOrEmpty
        $null = Invoke-MyVmCommand -Name $vm -Command 'umount /mnt/small'
    }
}
