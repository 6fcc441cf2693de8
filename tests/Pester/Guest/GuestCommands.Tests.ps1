<#
Invoke-MyVmCommand, Get-MyVmGuest, Get-MyVm's IPAddress and the guest agent's stop rung, on one
real VM of the 'tiny' image under TCG (the image carries qemu-ga on org.qemu.guest_agent.0).
The VM is shared by the whole suite (one boot); the stop rung runs last because it ends it.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $script:testHome = Initialize-MyHvTestSuite
    $null = Get-MyHvGuestImage
    $script:vm = 'gcmd'
    $narration = @(New-MyVm -Name $vm -Image tiny -MemoryMiB 256 | Start-MyVm -Wait -TimeoutSeconds 180 -Verbose 4>&1 | ForEach-Object { "$_" })
    $script:readyLine = @($narration | Where-Object { $_ -like "*reported ready through its*" })
}

AfterAll {
    Complete-MyHvTestSuite -HomePath $script:testHome
}

Describe 'The guest agent port' {
    It 'is a virtio-serial port org.qemu.guest_agent.0 on run/NAME/agent.sock, and the agent answers' {
        $qemu = Get-MyVm -Name $vm
        $cmd = [IO.File]::ReadAllText("/proc/$($qemu.Pid)/cmdline").Split([char] 0)
        $socket = Join-Path $testHome "run/$vm/agent.sock"
        $cmd | Should -Contain "socket,id=agent0,path=$socket,server=on,wait=off"
        $cmd | Should -Contain 'virtserialport,bus=vser0.0,chardev=agent0,name=org.qemu.guest_agent.0'
        # Private: its folder is the run's, 0700.
        (Get-Item -LiteralPath (Split-Path $socket)).UnixFileMode | Should -Be ([IO.UnixFileMode] 'UserRead, UserWrite, UserExecute')
        $readyLine | Should -Not -BeNullOrEmpty
        Get-MyVmConsole -Name $vm | Should -Contain 'myhv-guest: ready'
        # The existing readiness channel still works next to the agent.
        Get-MyVmConsole -Name $vm | Where-Object { $_ -like 'myhv-guest: guest agent on /dev/vport*' } | Should -Not -BeNullOrEmpty
    }
}

Describe 'Readiness through the agent' {
    It 'counts the agent''s guest-ping answer as ready (channel and console left out)' {
        # GuestReadiness, as Start-MyVm -Wait calls it, given only the agent: no channel socket and
        # a console log that never says ready. It returns Agent once guest-ping is answered.
        $socket = Join-Path $testHome "run/$vm/agent.sock"
        $never = Join-Path $testHome 'no-console.log'
        $source = [MyHypervisor.Core.Lifecycle.GuestReadiness]::Wait($null, $never, 'never printed', [TimeSpan]::FromSeconds(30),
            [Func[bool]] { $true }, $null, [Threading.CancellationToken]::None, $socket)
        $source | Should -Be 'Agent'
    }

    It 'Start-MyVm -Wait recorded the guest''s addresses from the agent' {
        $state = Get-Content -Raw -LiteralPath (Join-Path $testHome "vms/$vm/state.json") | ConvertFrom-Json
        $state.guestAgent | Should -BeTrue
        $state.guestAddresses.addresses | Should -Contain '10.0.2.15'
    }
}

Describe 'Invoke-MyVmCommand' {
    It 'returns stdout, stderr and exit code 0' {
        $r = Invoke-MyVmCommand -Name $vm -FilePath /bin/echo -ArgumentList 'hello', 'two  spaces'
        $r | Should -BeOfType ([MyHypervisor.Core.Guest.GuestCommandResult])
        $r.VmName | Should -Be $vm
        $r.ExitCode | Should -Be 0
        $r.StdOut | Should -Be "hello two  spaces`n" -Because 'arguments are passed as they are, no shell splitting'
        $r.StdErr | Should -Be ''
        $r.TimedOut | Should -BeFalse
        $r.Duration | Should -BeGreaterThan ([TimeSpan]::Zero)
    }

    It 'returns exit code 3 with the output of both streams, as data (no error)' {
        $errs = $null
        $r = Invoke-MyVmCommand -Name $vm -FilePath /bin/sh -ArgumentList '-c', 'echo out; echo err >&2; exit 3' -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        $r.ExitCode | Should -Be 3
        $r.StdOut | Should -Be "out`n"
        $r.StdErr | Should -Be "err`n"
        [Text.Encoding]::UTF8.GetString($r.StdErrBytes) | Should -Be "err`n"
    }

    It 'reports a process killed by a signal (128 + signal, and Signal)' {
        $r = Invoke-MyVmCommand -Name $vm -Command 'kill -9 $$'
        $r.Signal | Should -Be 9
        $r.ExitCode | Should -Be 137
        $r.TimedOut | Should -BeFalse
    }

    It '-ErrorOnNonZeroExit makes a non-zero exit a GuestCommandFailed error, and still writes the result' {
        $errs = $null
        $r = Invoke-MyVmCommand -Name $vm -Command 'echo nope >&2; exit 3' -ErrorOnNonZeroExit -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.ExitCode | Should -Be 3
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandFailed,*'
        "$($errs[0])" | Should -Match 'exited with 3: nope'
        Invoke-MyVmCommand -Name $vm -FilePath /bin/true -ErrorOnNonZeroExit -ErrorAction Stop | ForEach-Object ExitCode | Should -Be 0
    }

    It 'sends 1 MiB of binary stdin and gets the same bytes back' {
        $bytes = [byte[]]::new(1MB)
        [Random]::new(12).NextBytes($bytes)
        $r = Invoke-MyVmCommand -Name $vm -FilePath /bin/cat -InputObject $bytes -TimeoutSeconds 120
        $r.ExitCode | Should -Be 0
        $r.StdOutBytes.Length | Should -Be $bytes.Length
        [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($r.StdOutBytes)) |
            Should -Be ([Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($bytes)))
    }

    It 'sends text stdin as UTF-8' {
        (Invoke-MyVmCommand -Name $vm -FilePath /bin/cat -InputObject "grüße`n").StdOut | Should -Be "grüße`n"
    }

    It 'reads 5 MiB of output completely' {
        $r = Invoke-MyVmCommand -Name $vm -Command 'head -c 5242880 /dev/zero | tr "\0" x' -TimeoutSeconds 180
        $r.ExitCode | Should -Be 0
        $r.OutputTruncated | Should -BeFalse
        $r.StdOutBytes.Length | Should -Be 5242880
        ($r.StdOutBytes | Select-Object -Unique) | Should -Be ([byte][char]'x')
    }

    It 'kills a command that runs past -TimeoutSeconds (sleep 600), and says so' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-MyVmCommand -Name $vm -FilePath /bin/sleep -ArgumentList 600 -TimeoutSeconds 3
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 30
        $r.TimedOut | Should -BeTrue
        $r.Signal | Should -Be 9
        # A second command shows that no sleep 600 is left in the guest.
        (Invoke-MyVmCommand -Name $vm -Command 'ps -o pid,args | grep -c "[s]leep 600" || true').StdOut.Trim() | Should -Be '0'
    }

    It 'kills what a timed-out -Command line started too (its whole process group)' {
        $r = Invoke-MyVmCommand -Name $vm -Command 'sleep 601 & sleep 602; echo never' -TimeoutSeconds 2
        $r.TimedOut | Should -BeTrue
        (Invoke-MyVmCommand -Name $vm -Command 'ps -o args | grep -c "[s]leep 60[12]" || true').StdOut.Trim() | Should -Be '0'
    }

    It '-Command runs a line through /bin/sh -c (pipes, variables, redirections, &&)' {
        $r = Invoke-MyVmCommand -Name $vm -Command 'x=$((6*7)); echo "$x" | tr 4 F && echo to-err 1>&2; printf "%s\n" a b | wc -l'
        $r.StdOut | Should -Be "F2`n2`n"
        $r.StdErr | Should -Be "to-err`n"
    }

    It '-WorkingDirectory changes directory safely (a name with spaces and shell characters is no code)' {
        $null = Invoke-MyVmCommand -Name $vm -FilePath /bin/mkdir -ArgumentList '-p', '/tmp/a dir;$(touch /tmp/pwned)'
        $r = Invoke-MyVmCommand -Name $vm -FilePath /bin/pwd -WorkingDirectory '/tmp/a dir;$(touch /tmp/pwned)'
        $r.StdOut | Should -Be "/tmp/a dir;`$(touch /tmp/pwned)`n"
        (Invoke-MyVmCommand -Name $vm -Command 'test -e /tmp/pwned; echo $?').StdOut | Should -Be "1`n"
        $missing = Invoke-MyVmCommand -Name $vm -FilePath /bin/pwd -WorkingDirectory /no/such/dir
        $missing.ExitCode | Should -Not -Be 0
        $missing.StdErr | Should -Match 'no/such/dir'
    }

    It '-Environment adds variables for the command (the agent''s PATH stays)' {
        $r = Invoke-MyVmCommand -Name $vm -Command 'printf "%s|%s\n" "$GREETING" "$OTHER"; command -v ls >/dev/null && echo has-path' `
            -Environment @{ GREETING = 'hello world'; OTHER = 'a=b' }
        $r.StdOut | Should -Be "hello world|a=b`nhas-path`n"
        { Invoke-MyVmCommand -Name $vm -FilePath /bin/true -Environment @{ 'BAD=NAME' = 1 } -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidVmSpec,MyHypervisor.PowerShell.Commands.InvokeMyVmCommandCommand'
    }

    It 'takes the VM from the pipeline by value (Get-MyVm objects) and by property name' {
        (Get-MyVm -Name $vm | Invoke-MyVmCommand -FilePath /bin/hostname).StdOut | Should -Be "$vm`n"
        ([pscustomobject]@{ Name = $vm } | Invoke-MyVmCommand -FilePath /bin/hostname).StdOut | Should -Be "$vm`n"
        ($vm | Invoke-MyVmCommand -FilePath /bin/hostname).StdOut | Should -Be "$vm`n"
    }

    It 'shows a result as a table (VmName, ExitCode, TimedOut, Duration, StdOut, StdErr)' {
        $text = (Invoke-MyVmCommand -Name $vm -Command 'echo shown' | Out-String)
        $text | Should -Match 'VmName\s+ExitCode\s+TimedOut\s+Duration\s+StdOut\s+StdErr'
        $text | Should -Match "$vm\s+0\s+False\s+\S+\s+shown"
    }

    It 'a program that does not exist exits 127 naming it (as in a shell); with -ErrorOnNonZeroExit it is GuestCommandFailed' {
        $r = Invoke-MyVmCommand -Name $vm -FilePath /no/such/program
        $r.ExitCode | Should -Be 127
        $r.StdErr | Should -Match '/no/such/program'
        $errs = $null
        $null = Invoke-MyVmCommand -Name $vm -FilePath /no/such/program -ErrorOnNonZeroExit -ErrorVariable errs -ErrorAction SilentlyContinue
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandFailed,*'
        "$($errs[0])" | Should -Match '/no/such/program'
    }

    It 'a VM that is not running gives VmNotRunning' {
        $null = New-MyVm -Name 'gcmdoff' -Network None
        { Invoke-MyVmCommand -Name 'gcmdoff' -FilePath /bin/true -ErrorAction Stop } |
            Should -Throw -ErrorId 'VmNotRunning,MyHypervisor.PowerShell.Commands.InvokeMyVmCommandCommand'
        Remove-MyVm -Name 'gcmdoff' -Confirm:$false
    }
}

Describe 'Get-MyVmGuest and Get-MyVm IPAddress' {
    It 'returns host name, OS, kernel and interfaces with the user-network address' {
        $g = Get-MyVmGuest -Name $vm
        $g | Should -BeOfType ([MyHypervisor.Core.Guest.GuestFacts])
        $g.AgentStatus | Should -Be 'Answering'
        $g.HostName | Should -Be $vm
        $g.OsName | Should -Be 'MyHypervisor tiny'
        $g.KernelRelease | Should -BeLike '*-cloud-amd64'
        $eth0 = $g.Interfaces | Where-Object Name -EQ 'eth0'
        $eth0.MacAddress | Should -Be (Get-MyVm -Name $vm).MacAddress
        $eth0.IPAddresses | Should -Contain '10.0.2.15/24'
        $g.IPAddress[0] | Should -Be '10.0.2.15'
        (Get-MyVmGuest -Name $vm | Out-String) | Should -Match "$vm\s+Answering\s+$vm\s+MyHypervisor tiny"
    }

    It 'Get-MyVm shows the address, cached in the run''s state' {
        (Get-MyVm -Name $vm).IPAddress | Should -Contain '10.0.2.15'
        $state = Get-Content -Raw -LiteralPath (Join-Path $testHome "vms/$vm/state.json") | ConvertFrom-Json
        $state.guestAddresses.addresses | Should -Contain '10.0.2.15'
        [DateTimeOffset] $state.guestAddresses.answeredAt | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-5))
        # Cached: a second listing does not wait for the agent.
        (Measure-Command { $null = Get-MyVm -Name $vm }).TotalMilliseconds | Should -BeLessThan 400
    }

    It 'Get-MyVm refreshes a stale address from the agent, within a bounded wait' {
        $stateFile = Join-Path $testHome "vms/$vm/state.json"
        $state = Get-Content -Raw -LiteralPath $stateFile | ConvertFrom-Json
        # Age the cache and plant a wrong address: the next listing must ask the agent again.
        $state.guestAddresses.checkedAt = [DateTimeOffset]::UtcNow.AddMinutes(-10).ToString('o')
        $state.guestAddresses.addresses = @('192.0.2.99')
        [IO.File]::WriteAllText($stateFile, ($state | ConvertTo-Json -Depth 10))
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $ip = (Get-MyVm -Name $vm).IPAddress
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 2
        $ip | Should -Contain '10.0.2.15'
        $ip | Should -Not -Contain '192.0.2.99'
    }
}

Describe 'The stop ladder''s guest agent rung' {
    It 'a guest that ignores the power button is shut down through guest-shutdown, recorded as GuestAgentShutdown' {
        # Make the guest ignore the power button: its acpid is stopped through the agent first.
        (Invoke-MyVmCommand -Name $vm -Command 'kill $(cat /run/acpid.pid) && sleep 0.2 && ! kill -0 $(cat /run/acpid.pid) 2>/dev/null && echo gone').StdOut |
            Should -Be "gone`n"
        $narration = @(Stop-MyVm -Name $vm -TimeoutSeconds 3 -Verbose 4>&1 | ForEach-Object { "$_" })
        $narration | Should -Contain "VM '$vm': the guest ignored the power button; asking its guest agent for guest-shutdown"
        $after = Get-MyVm -Name $vm
        $after.Status | Should -Be 'Stopped'
        $after.StopMethod | Should -Be 'GuestAgentShutdown'
        Get-MyVmConsole -Name $vm | Should -Contain 'myhv-guest: power button, powering off'
        $after.IPAddress | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $testHome "run/$vm") | Should -BeFalse
    }

    It 'a stopped VM''s Get-MyVmGuest is VmNotRunning' {
        { Get-MyVmGuest -Name $vm -ErrorAction Stop } | Should -Throw -ErrorId 'VmNotRunning,MyHypervisor.PowerShell.Commands.GetMyVmGuestCommand'
    }
}
