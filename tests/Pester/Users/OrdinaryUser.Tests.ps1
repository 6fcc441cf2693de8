# Runner: host-exclusive
<#
An ordinary (non-root) user runs the module. The suite creates a user account for its duration
(useradd; removed in AfterAll with its home), gives it its own copy of pwsh, of the built module
and of the tiny image in its own image folder (~/.local/share/myhypervisor/images), and runs pwsh
as that user with setpriv (an argument list). Root first runs a VM with a volume, so the C
virtiofsd's /run/virtiofsd exists 0700 root, as on any host where root once shared a folder (the
module used to list it for every VM and fail with "Access to the path '/run/virtiofsd' is denied").
As the user, against real QEMU: the lifecycle (define, start, wait, stats, console, stop), a
killed QEMU found by Get-MyVm, repair, remove; the error ids; the fail points with error (each
rolled back, with a recommendation that fits the step) and one with kill; root-only features
(TAP/bridge, volumes with the C virtiofsd, read-only volumes, KVM without access to /dev/kvm)
refused with PrerequisiteMissing naming the capability and the remedy before anything exists (the
census of the user's state folder is unchanged); and Test-MyVmHost's answers for this user.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:rootHome = Initialize-MyHvTestSuite
    $script:userName = $null
    if ((& id -u) -ne '0') { throw 'This suite creates a user account: run it as root.' }

    # 1. Root shares a folder once: the C virtiofsd creates /run/virtiofsd (0700 root).
    $share = New-MyHvTestDir -Prefix 'mhU'
    $null = New-MyVm -Name 'rootvol' -Network None -Volume @{ Path = $share; Tag = 'r' } -ErrorAction Stop
    Start-MyVm -Name 'rootvol' -ErrorAction Stop
    $null = Stop-MyVm -Name 'rootvol' -Force
    Remove-MyVm -Name 'rootvol' -Force
    $script:lockFolder = (& stat -c '%a %u %F' -- /run/virtiofsd)

    # 2. The account, with its own pwsh, module, test helpers and image (it cannot read root's).
    $script:userName = 'mhu' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    & useradd --create-home --user-group --shell /usr/sbin/nologin -- $script:userName
    if ($LASTEXITCODE -ne 0) { throw "useradd $($script:userName) failed" }
    $script:uid = [int] (& id -u -- $script:userName)
    $script:userHome = (& getent passwd -- $script:userName).Split(':')[5]
    $tools = Join-Path $script:userHome 't'
    $null = New-Item -ItemType Directory -Path $tools
    Copy-Item -LiteralPath $PSHOME -Destination (Join-Path $tools 'pwsh') -Recurse
    Copy-Item -LiteralPath (Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor') -Destination (Join-Path $tools 'module') -Recurse
    Copy-Item -LiteralPath (Join-Path $PSScriptRoot '../Support') -Destination (Join-Path $tools 'Support') -Recurse
    $tinyFolder = [MyHypervisor.Core.Images.ImageCatalog]::new([MyHypervisor.Core.Configuration.MyHvPaths]::FromEnvironment()).Resolve('tiny').Folder
    $images = Join-Path $script:userHome '.local/share/myhypervisor/images'
    $null = New-Item -ItemType Directory -Path $images -Force
    Copy-Item -LiteralPath $tinyFolder -Destination (Join-Path $images 'tiny') -Recurse
    & chown -R -- "$($script:userName):$($script:userName)" $script:userHome
    if ($LASTEXITCODE -ne 0) { throw 'chown of the user home failed' }
    $script:stateHome = Join-Path $script:userHome '.local/state/myhypervisor'
    $dotnet = if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { [Environment]::ProcessPath }
    else { (Get-Command -Name dotnet -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source }
    $script:asUser = @{
        Wrapper         = @('setpriv', "--reuid=$($script:userName)", "--regid=$($script:userName)", '--init-groups', '--')
        LaunchPrefix    = @($dotnet, (Join-Path $tools 'pwsh/pwsh.dll'))
        ScriptDirectory = $tools
        ModuleManifest  = Join-Path $tools 'module/MyHypervisor.psd1'
        KitPath         = Join-Path $tools 'Support/MyHvTestKit.psm1'
    }

    # Runs $Body as the user, with a login-like environment: its HOME, no MYHV_HOME (the default
    # ~/.local/state/myhypervisor), no image path but its own, MYHV_ACCEL as the user would have it (unset).
    function Invoke-AsUser([string] $Body, [hashtable] $Environment = @{}, [int] $TimeoutSeconds = 300) {
        $envs = @{
            HOME = $script:userHome; USER = $script:userName; LOGNAME = $script:userName; MYHV_HOME = $null; MYHV_ACCEL = $null
            MYHV_IMAGE_PATH = $null; MYHV_FAILPOINTS = $null; XDG_STATE_HOME = $null; XDG_DATA_HOME = $null; XDG_CONFIG_HOME = $null
            XDG_CACHE_HOME = $null; PSModulePath = $null; TMPDIR = $null; DOTNET_CLI_HOME = $null
        }
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        $child = Invoke-MyHvChild @script:asUser -Body $Body -Environment $envs -TimeoutSeconds $TimeoutSeconds
        $child | Add-Member -NotePropertyName Text -NotePropertyValue ($child.Output -join "`n") -PassThru
    }

    # Live processes (not zombies) of the test user.
    function Get-UserProcess {
        foreach ($dir in [System.IO.Directory]::EnumerateDirectories('/proc')) {
            $procId = 0
            if (-not [int]::TryParse([System.IO.Path]::GetFileName($dir), [ref] $procId)) { continue }
            try { $status = [System.IO.File]::ReadAllLines("$dir/status") } catch { continue }
            $uidLine = $status | Where-Object { $_.StartsWith('Uid:') } | Select-Object -First 1
            $state = $status | Where-Object { $_.StartsWith('State:') } | Select-Object -First 1
            if ($uidLine -and [int] ($uidLine -split '\s+')[1] -eq $script:uid -and $state -notmatch '\s[ZX]\s') { $procId }
        }
    }

    function Get-StateCensus { Get-MyHvTreeSnapshot -Path $script:stateHome }
}

AfterAll {
    if ($script:userName) {
        # End what the user still runs (only this suite's account, by pid), then remove the account.
        foreach ($procId in @(Get-UserProcess)) { & kill -9 $procId 2>$null }
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while (@(Get-UserProcess).Count -gt 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        # The user's TMPDIR is the shared /tmp, as at a login, and a pwsh killed there leaves its
        # diagnostic socket and debug pipes behind. The account is this suite's own, so whatever it
        # owns in the shared temp folders is the suite's: removed, and none may remain.
        $shared = @('/tmp', '/var/tmp', '/dev/shm') | Where-Object { Test-Path -LiteralPath $_ -PathType Container }
        & find @shared -mindepth 1 -maxdepth 1 -xdev -uid $script:uid -exec rm -rf -- '{}' +
        $left = @(& find @shared -mindepth 1 -maxdepth 1 -xdev -uid $script:uid)
        if ($left) { throw "the test user's files are still in the shared temp folders: $($left -join ', ')" }
        & userdel --remove -- $script:userName 2>$null
        & id -- $script:userName 2>$null
        if ($LASTEXITCODE -eq 0) { throw "the test user $($script:userName) is still there" }
        if (Test-Path -LiteralPath $script:userHome) { throw "the test user's home $($script:userHome) is still there" }
    }
    Assert-MyHvNoLeftovers -Home $script:rootHome
}

Describe 'The host, as an ordinary user finds it' {
    It 'has the C virtiofsd''s /run/virtiofsd as root left it (0700 root), which the user cannot list' {
        $script:lockFolder | Should -Be '700 0 directory'
        $r = Invoke-AsUser -Body @'
$r.Uid = [int] (& id -u)
try { $null = Get-ChildItem -LiteralPath /run/virtiofsd -ErrorAction Stop; $r.Listed = $true } catch { $r.Listed = $false }
'@
        $r.Result.Uid | Should -Be $script:uid
        $r.Result.Uid | Should -Not -Be 0
        $r.Result.Listed | Should -BeFalse -Because $r.Text
    }
}

Describe 'The lifecycle of a user-network VM, as the user' {
    BeforeAll {
        $script:life = Invoke-AsUser -Body @'
$vm = New-MyVm -Name u1
$r.Created = $vm.Name
Start-MyVm -Name u1 -Wait -TimeoutSeconds 150
$running = Get-MyVm -Name u1
$r.Status = "$($running.Status)"; $r.Pid = $running.Pid; $r.Accelerator = $running.Accelerator
$r.QemuUid = [int] ((Get-Content "/proc/$($running.Pid)/status" | Where-Object { $_ -like 'Uid:*' }) -split '\s+')[1]
$stats = Get-MyVmStats -Name u1
$r.StatsStatus = "$($stats.Status)"; $r.Cpu = $stats.CpuSeconds; $r.Rss = $stats.MemoryRssBytes; $r.DiskRead = $stats.DiskReadBytes
$r.Console = @(Get-MyVmConsole -Name u1 -Tail 50)
$stopped = Stop-MyVm -Name u1 -PassThru
$r.Stopped = "$($stopped.Status)"; $r.StopMethod = "$($stopped.StopMethod)"
# A QEMU that dies: Get-MyVm notices it and tears the run down; Repair-MyVm finds nothing left.
Start-MyVm -Name u1
$again = Get-MyVm -Name u1
& kill -9 $again.Pid
$deadline = [DateTime]::UtcNow.AddSeconds(20)
# Gone once it is a zombie (or reaped) with no thread of it left.
while ([DateTime]::UtcNow -lt $deadline) {
    $stat = Get-Content -LiteralPath "/proc/$($again.Pid)/stat" -Raw -ErrorAction SilentlyContinue
    if (-not $stat -or ($stat -match '\) [ZX] ' -and @(Get-ChildItem "/proc/$($again.Pid)/task" -ErrorAction SilentlyContinue).Count -le 1)) { break }
    Start-Sleep -Milliseconds 100
}
Start-Sleep -Milliseconds 300
$dead = Get-MyVm -Name u1
$r.AfterKill = "$($dead.Status)"; $r.AfterKillReason = $dead.StatusReason
$r.RunDirAfterKill = Test-Path -LiteralPath ~/.local/state/myhypervisor/run/u1
$repair = Repair-MyVm -Name u1
$r.RepairStatus = "$($repair.Status)"; $r.RepairLeftovers = @($repair.Leftovers)
Remove-MyVm -Name u1 -Force
$r.AfterRemove = @(Get-MyVm).Count
$r.VmDir = Test-Path -LiteralPath ~/.local/state/myhypervisor/vms/u1
'@
        $script:lr = $script:life.Result
    }

    It 'ran to the end as the user (no error)' {
        Assert-MyHvChildRan -Run $script:life
    }

    It 'defines, starts and waits for the guest; QEMU runs as the user, under TCG (no access to /dev/kvm)' {
        $script:lr.Created | Should -Be 'u1'
        $script:lr.Status | Should -Be 'Running'
        $script:lr.QemuUid | Should -Be $script:uid
        $script:lr.Accelerator | Should -Be 'tcg'
        $script:lr.Console | Should -Contain 'myhv-guest: ready'
    }

    It 'reports stats' {
        $script:lr.StatsStatus | Should -Be 'Running'
        $script:lr.Cpu | Should -BeGreaterThan 0
        $script:lr.Rss | Should -BeGreaterThan 0
        $script:lr.DiskRead | Should -BeGreaterThan 0
    }

    It 'stops gracefully' {
        $script:lr.Stopped | Should -Be 'Stopped'
        $script:lr.StopMethod | Should -Be 'GuestPowerOff'
    }

    It 'finds a killed QEMU, tears the run down, repairs and removes' {
        $script:lr.AfterKill | Should -Be 'Failed'
        $script:lr.AfterKillReason | Should -Match 'died unexpectedly'
        $script:lr.RunDirAfterKill | Should -BeFalse
        $script:lr.RepairStatus | Should -Be 'Failed'
        @($script:lr.RepairLeftovers) | Should -BeNullOrEmpty
        $script:lr.AfterRemove | Should -Be 0
        $script:lr.VmDir | Should -BeFalse
        @(Get-UserProcess) | Should -BeNullOrEmpty -Because 'nothing of the VM runs any more'
    }
}

Describe 'Error ids and root-only features, as the user' {
    BeforeAll {
        $null = Invoke-AsUser -Body 'New-MyVm -Name kv | Out-Null'
        # The user turns its own VM into a bridged one by hand: Start-MyVm must refuse it up front too.
        $null = Invoke-AsUser -Body @'
New-MyVm -Name hb | Out-Null
$file = Join-Path ~ '.local/state/myhypervisor/vms/hb/definition.json'
$d = Get-Content -LiteralPath $file -Raw | ConvertFrom-Json
$d.network.mode = 'Bridge'
$d.network | Add-Member -Force bridge 'br0'
# The TAP name the module gives this VM, so the record is valid and only the privilege is missing.
$d.network | Add-Member -Force tapName ([MyHypervisor.Core.Networking.NetworkInterfaceNames]::TapName([guid] $d.id))
Set-Content -LiteralPath $file -Value ($d | ConvertTo-Json -Depth 6)
'@
        $script:censusBefore = Get-StateCensus
        $script:errs = Invoke-AsUser -Body @'
function Try-It([string] $Key, [scriptblock] $Script, [hashtable] $Env = @{}) {
    $saved = @{}
    foreach ($k in $Env.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Env[$k]) }
    try { $null = & $Script; $r[$Key] = 'no error' }
    catch { $r[$Key] = [ordered]@{ Id = $_.FullyQualifiedErrorId.Split(',')[0]; Message = $_.Exception.Message; Hint = $(if ($_.ErrorDetails) { $_.ErrorDetails.RecommendedAction }) } }
    finally { foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) } }
}
Try-It NotFound { Get-MyVm -Name nope -ErrorAction Stop }
Try-It BadName { New-MyVm -Name 'Bad_Name' }
Try-It NoImage { New-MyVm -Name noimg -Image nope }
Try-It NotRunning { Get-MyVmStats -Name kv -ErrorAction Stop }
Try-It Bridge { New-MyVm -Name br -Bridge br0 -IPAddress 10.77.0.2/24 }
Try-It Volume { New-MyVm -Name vol -Network None -Volume @{ Path = (Get-Item ~).FullName; Tag = 'home' } }
Try-It ReadOnlyVolume { New-MyVm -Name rov -Network None -Volume @{ Path = (Get-Item ~).FullName; Tag = 'home'; ReadOnly = $true } }
Try-It Kvm { Start-MyVm -Name kv -ErrorAction Stop } @{ MYHV_ACCEL = 'kvm' }
Try-It HandBridge { Start-MyVm -Name hb -ErrorAction Stop }
'@
        $script:er = $script:errs.Result
        $script:censusAfter = Get-StateCensus
    }

    It 'ran every case' {
        Assert-MyHvChildRan -Run $script:errs
    }

    It 'gives the contract id <Id> for <Key>' -TestCases @(
        @{ Key = 'NotFound'; Id = 'VmNotFound' }
        @{ Key = 'BadName'; Id = 'InvalidVmName' }
        @{ Key = 'NoImage'; Id = 'ImageNotFound' }
        @{ Key = 'NotRunning'; Id = 'VmNotRunning' }
    ) {
        $script:er.$Key.Id | Should -Be $Id -Because ($script:er.$Key | ConvertTo-Json)
    }

    It 'refuses <Key> with PrerequisiteMissing naming <Capability> and the remedy' -TestCases @(
        @{ Key = 'Bridge'; Capability = 'CAP_NET_ADMIN'; Remedy = 'run as root .*or use -Network User' }
        @{ Key = 'Volume'; Capability = 'virtiofsd .*needs root'; Remedy = 'run as root, or install an unprivileged virtiofsd' }
        @{ Key = 'ReadOnlyVolume'; Capability = 'read-only bind mount'; Remedy = 'run as root, or install an unprivileged virtiofsd' }
        @{ Key = 'Kvm'; Capability = 'no read-write access to /dev/kvm'; Remedy = 'add the user to the group that owns /dev/kvm' }
        @{ Key = 'HandBridge'; Capability = 'CAP_NET_ADMIN'; Remedy = 'run as root' }
    ) {
        $e = $script:er.$Key
        $e.Id | Should -Be 'PrerequisiteMissing' -Because ($e | ConvertTo-Json)
        $e.Message | Should -Match $Capability
        $e.Message | Should -Match $Remedy
        $e.Message | Should -Match ([regex]::Escape($script:userName))
        $e.Hint | Should -Match 'Test-MyVmHost'
    }

    It 'creates nothing for a refused feature: the census of the user''s state folder is unchanged' {
        $script:censusBefore.Count | Should -BeGreaterThan 0
        $script:censusAfter | Should -Be $script:censusBefore
        @(Get-ChildItem -LiteralPath (Join-Path $script:stateHome 'vms') -Directory).Name | Sort-Object | Should -Be @('hb', 'kv')
        Test-Path -LiteralPath (Join-Path $script:stateHome 'run/kv') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:stateHome 'run/hb') | Should -BeFalse
        @(Get-UserProcess) | Should -BeNullOrEmpty
    }
}

Describe 'Fail points, as the user' {
    BeforeAll {
        $script:fp = Invoke-AsUser -Body @'
New-MyVm -Name fp | Out-Null
foreach ($point in 'storage', 'runtime-dir', 'guest-channel', 'hypervisor-launch', 'api-ready', 'commit') {
    $env:MYHV_FAILPOINTS = "start.$point=error"
    $o = [ordered]@{}
    try { Start-MyVm -Name fp -ErrorAction Stop; $o.Id = 'no error' }
    catch { $o.Id = $_.FullyQualifiedErrorId.Split(',')[0]; $o.Message = $_.Exception.Message; $o.Hint = $(if ($_.ErrorDetails) { $_.ErrorDetails.RecommendedAction }) }
    $env:MYHV_FAILPOINTS = $null
    $vm = Get-MyVm -Name fp
    $o.Status = "$($vm.Status)"
    $o.RunDir = Test-Path -LiteralPath ~/.local/state/myhypervisor/run/fp
    $o.Journal = Test-Path -LiteralPath ~/.local/state/myhypervisor/vms/fp/start.journal
    $o.Qemu = @(Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | ForEach-Object {
        try { [System.IO.File]::ReadAllText("$($_.FullName)/cmdline") } catch { '' } } | Where-Object { $_.Contains('/run/fp/') }).Count
    $r[$point] = $o
}
'@
        $script:fr = $script:fp.Result
    }

    It 'ran every point' {
        Assert-MyHvChildRan -Run $script:fp
    }

    It 'start.<Point>=error fails with VmStartFailed at that step, rolls everything back, and recommends <Advice>' -TestCases @(
        @{ Point = 'storage'; Console = $false; Advice = 'what fits a host-side failure' }
        @{ Point = 'runtime-dir'; Console = $false; Advice = 'what fits a host-side failure' }
        @{ Point = 'guest-channel'; Console = $false; Advice = 'what fits a host-side failure' }
        @{ Point = 'hypervisor-launch'; Console = $false; Advice = 'reading QEMU''s message' }
        @{ Point = 'api-ready'; Console = $true; Advice = 'the guest console' }
        @{ Point = 'commit'; Console = $true; Advice = 'the guest console' }
    ) {
        $o = $script:fr.$Point
        $o.Id | Should -Be 'VmStartFailed' -Because ($o | ConvertTo-Json)
        $o.Message | Should -Match "at step '$Point'"
        $o.Status | Should -Be 'Failed'
        $o.RunDir | Should -BeFalse
        $o.Journal | Should -BeFalse
        $o.Qemu | Should -Be 0
        $o.Hint | Should -Not -BeNullOrEmpty
        if ($Console) { $o.Hint | Should -Match 'Get-MyVmConsole' }
        else { $o.Hint | Should -Not -Match 'Get-MyVmConsole' -Because 'the guest never ran: its console holds nothing of this attempt' }
    }

    It 'start.api-ready=kill: the next command of the user rolls the attempt back' {
        $killed = Invoke-AsUser -Environment @{ MYHV_FAILPOINTS = 'start.api-ready=kill' } -Body "Start-MyVm -Name fp`n`$r.Survived = `$true"
        $killed.Result | Should -BeNullOrEmpty -Because "the child dies at the fail point: $($killed.Text)"
        Test-Path -LiteralPath (Join-Path $script:stateHome 'vms/fp/start.journal') | Should -BeTrue
        @(Get-UserProcess).Count | Should -BeGreaterThan 0 -Because 'the QEMU of the killed start still runs'
        $next = Invoke-AsUser -Body '$vm = Get-MyVm -Name fp; $r.Status = "$($vm.Status)"; $r.Reason = $vm.StatusReason; Remove-MyVm -Name fp -Force'
        $next.Result.Status | Should -Be 'Failed' -Because $next.Text
        $next.Result.Reason | Should -Match "interrupted at step 'api-ready'"
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while (@(Get-UserProcess).Count -gt 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        @(Get-UserProcess) | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:stateHome 'run/fp') | Should -BeFalse
    }
}

Describe 'Test-MyVmHost for the user' {
    BeforeAll {
        $script:hc = Invoke-AsUser -Body @'
foreach ($c in Test-MyVmHost) { $r[$c.Check] = [ordered]@{ Ok = $c.Ok; Detail = $c.Detail; Remedy = $c.Remedy } }
'@
        $script:hr = $script:hc.Result
        $script:rootChecks = @{}
        foreach ($c in Test-MyVmHost) { $script:rootChecks[$c.Check] = $c }
    }

    It 'shows what the user can use: QEMU, its own image, TCG (and why not KVM)' {
        $script:hr | Should -Not -BeNullOrEmpty -Because $script:hc.Text
        $script:hr.Qemu.Ok | Should -BeTrue
        $script:hr.DefaultImage.Ok | Should -BeTrue
        $script:hr.DefaultImage.Detail | Should -Match ([regex]::Escape($script:userHome))
        $script:hr.Accelerator.Ok | Should -BeTrue
        $script:hr.Accelerator.Detail | Should -Match "^tcg: user '$($script:userName)' has no access to /dev/kvm"
    }

    It 'shows what the user cannot use, why, and the remedy: <Check>' -TestCases @(
        @{ Check = 'TapPermission'; Why = 'CAP_NET_ADMIN'; Remedy = 'run as root' }
        @{ Check = 'Virtiofsd'; Why = 'needs root'; Remedy = 'run as root, or install an unprivileged virtiofsd' }
        @{ Check = 'VolumeTools'; Why = 'read-only volumes are not for'; Remedy = 'run as root' }
    ) {
        $c = $script:hr.$Check
        $c.Ok | Should -BeFalse
        $c.Detail | Should -Match $Why
        $c.Detail | Should -Match ([regex]::Escape($script:userName))
        $c.Remedy | Should -Match $Remedy
        $script:rootChecks[$Check].Ok | Should -BeTrue -Because 'root on this host has it: the answer is per user'
    }
}
