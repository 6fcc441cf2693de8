<#
Paths reach helpers' option syntax (virtiofsd's -o source=..., QEMU's -drive file=...,
-chardev path=..., -qmp unix:...) in a form that cannot be re-parsed. One real VM runs with its
MYHV_HOME in a folder named with a comma, an image folder named with a comma and '=', and four
volumes: '<dir>/x,source=/etc' (a real folder: 'x,source=' holding 'etc'; unescaped, virtiofsd
would read two source options and export the host's /etc), '<dir>/a,b' (unescaped: an unknown
option 'b'), a read-only 'r,o=1' (served through a read-only bind mount by the C daemon), and one
with a backslash. Decoy folders '<dir>/x' and '<dir>/a' hold other tokens. The guest proves which
folder it got: each volume's boot script prints the token only that folder holds and writes a
file back, which must appear in the named folder and nowhere else.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:outerHome = New-MyHvTestHome
    # The module's own paths all live below a folder whose name holds a comma.
    $script:testHome = Join-Path $script:outerHome 'h,o'
    $env:MYHV_HOME = $script:testHome
    $env:MYHV_ACCEL = 'tcg'
    $script:scratch = New-MyHvTestDir -Prefix 'mhA'

    # An image folder named with ',' and '=': the kernel, initrd and disk QEMU and qemu-img are given.
    $tinyFolder = [MyHypervisor.Core.Images.ImageCatalog]::new([MyHypervisor.Core.Configuration.MyHvPaths]::FromEnvironment()).Resolve('tiny').Folder
    $tiny = Get-Content -LiteralPath (Join-Path $tinyFolder 'image.json') -Raw | ConvertFrom-Json
    $script:imageDir = Join-Path $script:scratch 'i,mg=x/tiny'
    $null = New-Item -ItemType Directory -Path $script:imageDir
    Copy-Item -LiteralPath (Join-Path $tinyFolder 'image.json') -Destination $script:imageDir
    foreach ($file in $tiny.Kernel, $tiny.Initrd, $tiny.Disk) {
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $script:imageDir $file) -Target (Join-Path $tinyFolder $file)
    }

    function New-Share([string] $Path, [string] $Label, [switch] $ReadOnly) {
        $null = New-Item -ItemType Directory -Path $Path -Force
        $token = "$Label-" + [guid]::NewGuid().ToString('N')
        Set-Content -LiteralPath (Join-Path $Path 'token.txt') -Value $token -NoNewline
        $write = if ($ReadOnly) { '' } else { "echo `"$Label-wrote`" > from-guest.txt`n" }
        Set-Content -LiteralPath (Join-Path $Path 'myhv-boot.sh') -NoNewline -Value (
            "echo `"$Label-token: `$(cat token.txt)`"`n" +
            "if [ -e passwd ]; then echo $Label-has-passwd; else echo $Label-no-passwd; fi`n" + $write)
        $token
    }

    $script:paths = [ordered]@{
        xsrc    = Join-Path $script:scratch 'x,source=/etc'
        ab      = Join-Path $script:scratch 'a,b'
        rocomma = Join-Path $script:scratch 'r,o=1'
        bs      = Join-Path $script:scratch 'back\sl,ash'
    }
    $script:tokens = @{}
    foreach ($tag in $script:paths.Keys) { $script:tokens[$tag] = New-Share -Path $script:paths[$tag] -Label $tag -ReadOnly:($tag -eq 'rocomma') }
    # Decoys: what an option parser that split at the comma would have exported instead.
    $script:decoys = @{ x = (New-Share -Path (Join-Path $script:scratch 'x') -Label 'decoyx'); a = (New-Share -Path (Join-Path $script:scratch 'a') -Label 'decoya') }

    $volumes = foreach ($tag in $script:paths.Keys) { @{ Path = $script:paths[$tag]; Tag = $tag; ReadOnly = ($tag -eq 'rocomma') } }
    $null = New-MyVm -Name 'cvol' -Image $script:imageDir -Network None -Volume $volumes -ErrorAction Stop
    Start-MyVm -Name 'cvol' -Wait -TimeoutSeconds 150 -ErrorAction Stop
    $script:running = Get-MyVm -Name 'cvol'
    $script:qemuArgv = [System.IO.File]::ReadAllText("/proc/$($script:running.Pid)/cmdline").Split([char] 0)
    $run = Join-Path $script:testHome 'run/cvol'
    $script:daemons = @{}
    foreach ($tag in $script:paths.Keys) { $script:daemons[$tag] = @(Get-MyHvVirtiofsd -SocketPath (Join-Path $run "fs-$tag.sock")) }
    $script:console = @(Get-MyVmConsole -Name 'cvol')
    $script:stopped = Stop-MyVm -Name 'cvol' -PassThru
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:outerHome
    Assert-MyHvNoLeftovers -Home $script:scratch
}

Describe 'Folders named with commas, = and backslashes are shared as named' {
    It 'the VM ran from an image folder and a MYHV_HOME named with commas' {
        $script:running.Status | Should -Be 'Running'
        $script:qemuArgv | Should -Contain (Join-Path $script:imageDir 'vmlinuz')
        $script:console | Should -Contain 'myhv-guest: ready'
    }

    It 'the guest reads, in volume <Tag>, the token only the named folder holds' -TestCases @(
        @{ Tag = 'xsrc' }, @{ Tag = 'ab' }, @{ Tag = 'rocomma' }, @{ Tag = 'bs' }
    ) {
        $script:console | Should -Contain "myhv-boot: $($Tag)-token: $($script:tokens[$Tag])"
        $script:console | Should -Contain "myhv-boot: $($Tag)-no-passwd" -Because 'no volume may be the host''s /etc'
        foreach ($decoy in $script:decoys.Values) { @($script:console | Where-Object { $_ -like "*$decoy*" }) | Should -BeNullOrEmpty }
    }

    It 'what the guest wrote in volume <Tag> is in the named folder and nowhere else' -TestCases @(
        @{ Tag = 'xsrc' }, @{ Tag = 'ab' }, @{ Tag = 'bs' }
    ) {
        (Get-Content -LiteralPath (Join-Path $script:paths[$Tag] 'from-guest.txt') -Raw).Trim() | Should -Be "$Tag-wrote"
        Test-Path -LiteralPath (Join-Path $script:scratch 'x/from-guest.txt') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:scratch 'a/from-guest.txt') | Should -BeFalse
        Test-Path -LiteralPath '/etc/from-guest.txt' | Should -BeFalse
    }

    It 'virtiofsd got each folder as one escaped value (backslash before every comma and backslash)' {
        foreach ($tag in 'xsrc', 'ab', 'bs') {
            $script:daemons[$tag].Count | Should -BeGreaterThan 0
            $escaped = $script:paths[$tag].Replace('\', '\\').Replace(',', '\,')
            @($script:daemons[$tag] | Where-Object { $_.CommandLine.Contains(" source=$escaped ") }).Count | Should -Be $script:daemons[$tag].Count
        }
        # The read-only one is served from the module's read-only bind mount of the comma folder.
        @($script:daemons['rocomma'] | Where-Object { $_.CommandLine.Contains(' source=' + (Join-Path $script:testHome 'run/cvol/ro-rocomma').Replace(',', '\,') + ' ') }).Count |
            Should -Be $script:daemons['rocomma'].Count
    }

    It 'QEMU got every module path under the comma home with its commas doubled' {
        $h = $script:testHome.Replace(',', ',,')
        $script:qemuArgv | Should -Contain "file=$h/vms/cvol/disk.qcow2,if=none,id=disk0,format=qcow2,cache=writeback"
        $script:qemuArgv | Should -Contain "socket,id=chan0,path=$h/run/cvol/channel.sock,server=on,wait=off"
        $script:qemuArgv | Should -Contain "unix:$h/run/cvol/api.sock,server=on,wait=off"
        @($script:qemuArgv | Where-Object { $_ -like "socket,id=fs*,path=$h/run/cvol/fs-*.sock" }).Count | Should -Be 4
    }

    It 'stops cleanly and leaves nothing behind' {
        $script:stopped.Status | Should -Be 'Stopped'
        Get-MyHvLeftover -Home $script:outerHome | Should -BeNullOrEmpty
        Get-MyHvLeftover -Home $script:scratch | Should -BeNullOrEmpty
    }
}
