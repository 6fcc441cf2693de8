# Issue 4, deliverable 1 and acceptance 4, at the Core level with no VM: the artifact ledger
# ([MyHypervisor.Core.Ledger] ArtifactJournal, StartTransaction, ArtifactUndo) driven directly on
# temporary files, folders and 'sleep' processes. Records reach the journal before the artifact
# exists; undo runs newest first; each undo is idempotent and UndoAll twice on the same journal is
# a no-op the second time; a failing undo does not stop the others and is reported in Leftovers; a
# torn last journal line is ignored; a process whose pid was never recorded is found by its marker;
# a recorded pid that now belongs to another process is never signalled.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule   # loads out/MyHypervisor/MyHypervisor.Core.dll
    $script:root = New-MyHvTestHome
    $script:bootId = [System.IO.File]::ReadAllText('/proc/sys/kernel/random/boot_id').Trim()
    $script:started = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function New-Record {
        param([hashtable] $Fields)
        [MyHypervisor.Core.Ledger.ArtifactRecord] $Fields
    }

    function New-WorkDir {
        $dir = Join-Path $root ('w' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $dir
        $dir
    }

    function New-Narration {
        # A list and an Action[string] that appends to it (the -Verbose callback Core is given).
        $lines = [System.Collections.Generic.List[string]]::new()
        $action = [Action[string]] { param($m) $lines.Add($m) }.GetNewClosure()
        [pscustomobject]@{ Lines = $lines; Action = $action }
    }

    function Start-TestProcess {
        # 'sleep 300' started by this test; with -Argv0 its command line shows that text instead of 'sleep'.
        param([string] $Argv0, [string] $Program = 'sleep', [string[]] $Arguments = @('300'))
        $info = [System.Diagnostics.ProcessStartInfo]::new('bash')
        $info.UseShellExecute = $false
        $info.RedirectStandardInput = $true
        $info.ArgumentList.Add('-c')
        $info.ArgumentList.Add('exec -a "$0" "$@"')
        $info.ArgumentList.Add($(if ($Argv0) { $Argv0 } else { $Program }))
        $info.ArgumentList.Add($Program)
        foreach ($a in $Arguments) { $info.ArgumentList.Add($a) }
        $p = [System.Diagnostics.Process]::Start($info)
        $started.Add($p)
        # Wait until bash has exec'd the program (the pid's executable changes from bash).
        Wait-MyHvCondition -TimeoutSeconds 30 -Because "pid $($p.Id) to exec $Program" -Condition {
            try { [System.IO.Path]::GetFileName((Get-Item -LiteralPath "/proc/$($p.Id)/exe" -Force).Target) -eq $Program } catch { $false }
        }.GetNewClosure()
        $p
    }

    function Get-Identity {
        param([int] $ProcessId)
        [MyHypervisor.Core.Processes.ProcessLiveness]::Identify($ProcessId)
    }

    function Get-Outcome {
        # Outcomes as "<seq>:<result>" strings, in the order the undo produced them.
        param($Report)
        @($Report.Outcomes | ForEach-Object { "$($_.Record.Seq):$($_.Result)" })
    }
}

AfterAll {
    foreach ($p in $script:started) {
        try { if (-not $p.HasExited) { $p.Kill() }; $null = $p.WaitForExit(5000) } catch { }
    }
    if ($script:root -and (Test-Path -LiteralPath $script:root)) {
        & chattr -R -i -- $script:root 2>$null
        Remove-Item -LiteralPath $script:root -Recurse -Force
    }
}

Describe 'The artifact ledger (Core, no VM)' {

    It 'StartTransaction writes each record to the journal before the artifact exists, and Rollback undoes newest first, narrating each undo' {
        $dir = New-WorkDir
        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $narration = New-Narration
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $narration.Action)
        $journal.Exists | Should -BeTrue
        $journal.Read().Item1.Attempt | Should -Be $tx.Attempt
        $journal.Read().Item1.Owner.Pid | Should -Be $PID

        $outer = Join-Path $dir 'outer'
        $inner = Join-Path $outer 'inner.sock'
        $late = Join-Path $dir 'late.file'
        $tx.BeginStep('one')
        $null = $tx.Intend((New-Record @{ Kind = 'Directory'; Step = 'one'; Path = $outer }))
        @($journal.Read().Item2) | Should -HaveCount 1 -Because 'the record is on disk before the folder is made'
        $outer | Should -Not -Exist
        $null = New-Item -ItemType Directory -Path $outer
        $tx.StepDone('one')
        $tx.BeginStep('two')
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 'two'; Path = $inner }))
        @($journal.Read().Item2) | Should -HaveCount 2
        Set-Content -LiteralPath $inner -Value 'x'
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 'two'; Path = $late }))
        Set-Content -LiteralPath $late -Value 'y'
        @($journal.Read().Item2 | ForEach-Object Seq) | Should -Be @(1, 2, 3)

        $report = $tx.Rollback()

        Get-Outcome $report | Should -Be @('3:Removed', '2:Removed', '1:Removed') -Because 'newest first: the file inside the folder is removed before the folder, so both are Removed'
        $outer | Should -Not -Exist
        $late | Should -Not -Exist
        @($report.Leftovers) | Should -BeNullOrEmpty
        $journal.Exists | Should -BeFalse -Because 'a complete rollback retires the journal'
        @($narration.Lines | Where-Object { $_ -like 'Undo *' }) | Should -Be @(
            "Undo file ${late}: removed", "Undo file ${inner}: removed", "Undo directory ${outer}: removed")
        $narration.Lines | Should -Contain 'Step one'
        $narration.Lines | Should -Contain 'Step two'
    }

    It 'a new attempt cannot begin over an existing journal (an unrecovered attempt must be rolled back first)' {
        $dir = New-WorkDir
        $path = Join-Path $dir 'start.journal'
        $null = [MyHypervisor.Core.Ledger.StartTransaction]::new([MyHypervisor.Core.Ledger.ArtifactJournal]::new($path), $null)
        $before = Get-Content -Raw -LiteralPath $path
        { [MyHypervisor.Core.Ledger.StartTransaction]::new([MyHypervisor.Core.Ledger.ArtifactJournal]::new($path), $null) } | Should -Throw
        Get-Content -Raw -LiteralPath $path | Should -Be $before
    }

    It 'UndoAll twice on the same journal: the second run is a no-op (every outcome AlreadyGone), for every kind of artifact' {
        $dir = New-WorkDir
        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $null)
        $state = Join-Path $dir 'state.json'
        $previous = '{ "status": "Stopped" }'
        $marker = Join-Path $dir 'helper-marker'
        $sleep = Start-TestProcess -Argv0 "$marker/sleep"

        $null = $tx.Intend((New-Record @{ Kind = 'CommittedState'; Step = 'prepare'; Scope = 'Attempt'; Path = $state; PreviousContent = $previous }))
        Set-Content -LiteralPath $state -Value (@{ status = 'Running'; attempt = "$($tx.Attempt)" } | ConvertTo-Json)
        $null = $tx.Intend((New-Record @{ Kind = 'OverlayDisk'; Step = 'storage'; Scope = 'Attempt'; Path = (Join-Path $dir 'disk.qcow2') }))
        Set-Content -LiteralPath (Join-Path $dir 'disk.qcow2') -Value 'overlay'
        $null = $tx.Intend((New-Record @{ Kind = 'Directory'; Step = 'runtime-dir'; Path = (Join-Path $dir 'run') }))
        $null = New-Item -ItemType Directory -Path (Join-Path $dir 'run')
        $null = $tx.Intend((New-Record @{ Kind = 'TapDevice'; Step = 'network'; Name = 'mhtxnodev0' }))   # never created: AlreadyGone both times
        $null = $tx.Intend((New-Record @{ Kind = 'HelperLockFile'; Step = 'volumes'; Path = (Join-Path $dir 'helper.pid') }))
        Set-Content -LiteralPath (Join-Path $dir 'helper.pid') -Value "$($sleep.Id)"
        $null = $tx.Intend((New-Record @{ Kind = 'Process'; Step = 'volumes'; Program = '/usr/bin/sleep'; Marker = "$marker/" }))
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 'guest-channel'; Path = (Join-Path $dir 'run/channel.sock') }))
        Set-Content -LiteralPath (Join-Path $dir 'run/channel.sock') -Value ''

        $records = $journal.Read().Item2
        @($records) | Should -HaveCount 7
        $first = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($records, $null)

        Get-Outcome $first | Should -Be @('7:Removed', '6:Removed', '5:Removed', '4:AlreadyGone', '3:Removed', '2:Removed', '1:Removed')
        Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeFalse
        Get-Content -Raw -LiteralPath $state | Should -Be $previous -Because 'the committed state is written back'
        $snapshot = @(Get-ChildItem -LiteralPath $dir -Recurse -Force | ForEach-Object { "$($_.FullName) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" })

        $second = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($journal.Read().Item2, $null)

        Get-Outcome $second | Should -Be @('7:AlreadyGone', '6:AlreadyGone', '5:AlreadyGone', '4:AlreadyGone', '3:AlreadyGone', '2:AlreadyGone', '1:AlreadyGone')
        @($second.Removed) | Should -BeNullOrEmpty
        @($second.Leftovers) | Should -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath $dir -Recurse -Force | ForEach-Object { "$($_.FullName) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" }) |
            Should -Be $snapshot -Because 'the second undo changed nothing'
        Get-Content -Raw -LiteralPath $state | Should -Be $previous
    }

    It 'the committed state is only written back while the file still holds that attempt''s commit' {
        $dir = New-WorkDir
        $state = Join-Path $dir 'state.json'
        $newer = (@{ status = 'Running'; attempt = [guid]::NewGuid().ToString() } | ConvertTo-Json)
        Set-Content -LiteralPath $state -Value $newer -NoNewline
        $record = New-Record @{ Seq = 1; Kind = 'CommittedState'; Step = 'prepare'; Scope = 'Attempt'; Path = $state; PreviousContent = '{}'; Attempt = [guid]::NewGuid() }

        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($record).Result)" | Should -Be 'AlreadyGone'
        Get-Content -Raw -LiteralPath $state | Should -Be $newer -Because 'another attempt''s state is not ours to undo'
    }

    It 'a definition a restore replaced is written back once, and only into this VM''s own definition, only as a definition of this VM' {
        $dir = New-WorkDir
        $paths = [MyHypervisor.Core.Configuration.MyHvPaths]::new($dir)
        $scope = [MyHypervisor.Core.Ledger.RecordScope]::new($paths, 'a', $null)
        $null = New-Item -ItemType Directory -Path (Join-Path $dir 'vms/a')
        $definition = $paths.DefinitionFile('a')
        $restored = '{ "name": "a", "cpus": 1 }'
        $previous = '{ "name": "a", "cpus": 2 }'
        Set-Content -LiteralPath $definition -Value $restored -NoNewline
        $record = New-Record @{ Seq = 1; Kind = 'ReplacedDefinition'; Step = 'storage'; Scope = 'Attempt'; Path = $definition; PreviousContent = $previous }

        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($record, $scope).Result)" | Should -Be 'Removed'
        Get-Content -Raw -LiteralPath $definition | Should -Be $previous
        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($record, $scope).Result)" | Should -Be 'AlreadyGone'

        # A hand-edited record: another file, or text that is not this VM's definition, is refused and nothing is written.
        $victim = Join-Path $dir 'victim.json'
        Set-Content -LiteralPath $victim -Value 'keep' -NoNewline
        Set-Content -LiteralPath $definition -Value $restored -NoNewline
        foreach ($edited in @(
                @{ Path = $victim; PreviousContent = $previous }
                @{ Path = $definition; PreviousContent = '{ "name": "b", "cpus": 2 }' }
                @{ Path = $definition; PreviousContent = 'not json' }
                @{ Path = $definition; PreviousContent = $null })) {
            $bad = New-Record (@{ Seq = 1; Kind = 'ReplacedDefinition'; Step = 'storage'; Scope = 'Attempt' } + $edited)
            "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($bad, $scope).Result)" | Should -Be 'Refused' -Because "$($edited | ConvertTo-Json -Compress)"
        }
        Get-Content -Raw -LiteralPath $victim | Should -Be 'keep'
        Get-Content -Raw -LiteralPath $definition | Should -Be $restored
    }

    It 'a failing undo does not stop the others and is reported in Leftovers; the journal is kept for a retry' {
        $dir = New-WorkDir
        # chattr +i makes a file that even root cannot delete, so the folder holding it cannot be removed.
        $probe = Join-Path $dir 'probe'
        Set-Content -LiteralPath $probe -Value 'p'
        & chattr +i -- $probe 2>$null
        $immutableWorks = $LASTEXITCODE -eq 0
        & chattr -i -- $probe 2>$null
        Skip-UnlessPrerequisite -Name 'chattr +i on the test file system' -Condition $immutableWorks
        Remove-Item -LiteralPath $probe

        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $narration = New-Narration
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $narration.Action)
        $older = Join-Path $dir 'older'
        $stuck = Join-Path $dir 'stuck'
        $newer = Join-Path $dir 'newer.file'
        $null = $tx.Intend((New-Record @{ Kind = 'Directory'; Step = 'a'; Path = $older }))
        $null = New-Item -ItemType Directory -Path $older
        $null = $tx.Intend((New-Record @{ Kind = 'Directory'; Step = 'b'; Path = $stuck }))
        $null = New-Item -ItemType Directory -Path $stuck
        Set-Content -LiteralPath (Join-Path $stuck 'pinned') -Value 'cannot go'
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 'c'; Path = $newer }))
        Set-Content -LiteralPath $newer -Value 'n'
        & chattr +i -- (Join-Path $stuck 'pinned')
        try {
            $report = $tx.Rollback()

            Get-Outcome $report | Should -Be @('3:Removed', '2:Failed', '1:Removed') -Because 'the failure in the middle stopped neither the newer nor the older undo'
            $newer | Should -Not -Exist
            $older | Should -Not -Exist
            $stuck | Should -Exist
            @($report.Leftovers) | Should -HaveCount 1
            $report.Leftovers[0] | Should -BeLike "directory ${stuck}: could not remove (*)"
            @($report.Removed) | Should -Be @("file $newer", "directory $older")
            $journal.Exists | Should -BeTrue -Because 'an incomplete rollback keeps its journal so Repair-MyVm can try again'
            @($narration.Lines | Where-Object { $_ -like "Undo directory ${stuck}: could not remove*" }) | Should -HaveCount 1
        }
        finally { & chattr -i -- (Join-Path $stuck 'pinned') }

        # Once the obstacle is gone, undoing the kept journal again finishes the job.
        $retry = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($journal.Read().Item2, $null)
        Get-Outcome $retry | Should -Be @('3:AlreadyGone', '2:Removed', '1:AlreadyGone')
        $stuck | Should -Not -Exist
    }

    It 'a torn last journal line (the writer died mid-write) is ignored' {
        $dir = New-WorkDir
        $path = Join-Path $dir 'start.journal'
        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new($path)
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $null)
        $a = Join-Path $dir 'a'
        $b = Join-Path $dir 'b'
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 's'; Path = $a }))
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 's'; Path = $b }))
        Set-Content -LiteralPath $a, $b -Value 'x'
        $lines = @(Get-Content -LiteralPath $path)
        $lines | Should -HaveCount 3
        # The writer died half-way through a line that would have superseded record 2 (and named a folder).
        $torn = $lines[2].Replace($b, (Join-Path $dir 'never')).Replace('"File"', '"Directory"')
        [System.IO.File]::AppendAllText($path, $torn.Substring(0, [int]($torn.Length / 2)))

        $read = $journal.Read()

        $read.Item1.Attempt | Should -Be $tx.Attempt
        @($read.Item2) | Should -HaveCount 2
        @($read.Item2 | ForEach-Object { "$($_.Seq) $($_.Kind) $($_.Path)" }) | Should -Be @("1 File $a", "2 File $b")
        $report = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($read.Item2, $null)
        Get-Outcome $report | Should -Be @('2:Removed', '1:Removed')
        $a | Should -Not -Exist
        $b | Should -Not -Exist
    }

    It 'the journal notes each step as it begins, so a recovery can name a step that recorded no artifact' {
        $dir = New-WorkDir
        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $journal.LastStep() | Should -BeNullOrEmpty
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $null)
        $journal.LastStep() | Should -BeNullOrEmpty -Because 'no step has begun yet'
        $tx.BeginStep('hypervisor-launch')
        $null = $tx.Intend((New-Record @{ Kind = 'File'; Step = 'hypervisor-launch'; Path = (Join-Path $dir 'api.sock') }))
        $tx.BeginStep('api-ready')
        $tx.BeginStep('commit')

        $journal.LastStep() | Should -Be 'commit'
        @($journal.Read().Item2 | ForEach-Object Step) | Should -Be @('hypervisor-launch') -Because 'step notes are not artifacts'
        [System.IO.File]::AppendAllText($journal.FilePath, '{"type":"step","step":"tor')
        $journal.LastStep() | Should -Be 'commit' -Because 'a torn note is ignored'
    }

    It 'a complete later line for the same Seq supersedes the earlier one (intent, then details)' {
        $dir = New-WorkDir
        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $null)
        $sleep = Start-TestProcess
        $intent = $tx.Intend((New-Record @{ Kind = 'Process'; Step = 'x'; Program = '/usr/bin/sleep' }))
        $intent.Process | Should -BeNullOrEmpty
        # Update appends the record again with the pid (a copy with Process set, same Seq).
        $details = New-Record @{ Seq = $intent.Seq; Kind = 'Process'; Step = 'x'; Program = '/usr/bin/sleep'; Process = (Get-Identity $sleep.Id); Attempt = $tx.Attempt }
        $null = $tx.Update($details)

        $read = @($journal.Read().Item2)
        $read | Should -HaveCount 1
        $read[0].Process.Pid | Should -Be $sleep.Id
        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($read[0]).Result)" | Should -Be 'Removed'
        Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeFalse
    }

    It 'a Process record whose pid was never recorded is found by its marker (command line) and ended; other programs with the marker and processes without it are not' {
        $dir = New-WorkDir
        $marker = Join-Path $dir 'vm-run/'
        $helper = Start-TestProcess -Argv0 "${marker}fs.sock"               # sleep, marker on its command line
        $otherProgram = Start-TestProcess -Argv0 "${marker}other" -Program 'tail' -Arguments @('-f', '/dev/null')   # marker, but not sleep
        $unmarked = Start-TestProcess                                        # sleep, no marker
        [System.IO.File]::ReadAllText("/proc/$($helper.Id)/cmdline") | Should -BeLike "*$marker*" -Because 'precondition: the marker is on the command line'

        $journal = [MyHypervisor.Core.Ledger.ArtifactJournal]::new((Join-Path $dir 'start.journal'))
        $tx = [MyHypervisor.Core.Ledger.StartTransaction]::new($journal, $null)
        $null = $tx.Intend((New-Record @{ Kind = 'Process'; Step = 'volumes'; Program = '/usr/bin/sleep'; Marker = $marker }))
        # The process running the transaction dies here: only the journal is left.
        $records = [MyHypervisor.Core.Ledger.ArtifactRecord[]] @($journal.Read().Item2)
        $records | Should -HaveCount 1
        $records[0].Process | Should -BeNullOrEmpty -Because 'precondition: the pid never reached the journal'

        $report = [MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($records, $null)

        Get-Outcome $report | Should -Be @('1:Removed')
        Test-MyHvProcessAlive -ProcessId $helper.Id | Should -BeFalse
        Test-MyHvProcessAlive -ProcessId $otherProgram.Id | Should -BeTrue -Because 'the marker only matches the recorded program'
        Test-MyHvProcessAlive -ProcessId $unmarked.Id | Should -BeTrue
        Get-Outcome ([MyHypervisor.Core.Ledger.ArtifactUndo]::UndoAll($records, $null)) | Should -Be @('1:AlreadyGone')
    }

    It 'a process whose main thread has exited while another thread still runs is still alive, and its undo ends it' {
        Skip-UnlessPrerequisite -Name 'python3' -Condition { Get-Command -Name python3 -CommandType Application -ErrorAction Ignore }
        # The leader thread calls pthread_exit after 1 s: /proc shows it 'Z' while the worker thread runs on,
        # as with a SIGKILLed QEMU whose threads are still tearing down (holding sockets, memory, disk lock).
        $info = [System.Diagnostics.ProcessStartInfo]::new('python3')
        $info.UseShellExecute = $false
        foreach ($a in '-c', 'import threading, time, ctypes; threading.Thread(target=lambda: time.sleep(300)).start(); time.sleep(1); ctypes.CDLL(None).pthread_exit(None)') { $info.ArgumentList.Add($a) }
        $p = [System.Diagnostics.Process]::Start($info)
        $started.Add($p)
        $identity = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($null -eq $identity -and [DateTime]::UtcNow -lt $deadline) {
            # Taken while the leader still runs (then /proc/<pid>/exe is python, not the pyenv shim's bash).
            $candidate = Get-Identity $p.Id
            if ($candidate -and [System.IO.Path]::GetFileName($candidate.Executable) -like 'python*') { $identity = $candidate } else { Start-Sleep -Milliseconds 20 }
        }
        $identity | Should -Not -BeNullOrEmpty -Because 'precondition: python3 started'
        Wait-MyHvCondition -TimeoutSeconds 30 -Because 'the leader thread to exit' -Condition {
            $stat = [System.IO.File]::ReadAllText("/proc/$($p.Id)/stat")
            $stat.Substring($stat.LastIndexOf(')') + 2, 1) -eq 'Z'
        }.GetNewClosure()
        @([System.IO.Directory]::GetDirectories("/proc/$($p.Id)/task")) | Should -HaveCount 2 -Because 'precondition: the worker thread still runs'

        [MyHypervisor.Core.Processes.ProcessLiveness]::IsAlive($identity) | Should -BeTrue -Because 'a process with a running thread has not exited'
        $record = New-Record @{ Seq = 1; Kind = 'Process'; Step = 'x'; Program = $identity.Executable; Process = $identity }
        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($record).Result)" | Should -Be 'Removed'
        [MyHypervisor.Core.Processes.ProcessLiveness]::IsAlive($identity) | Should -BeFalse
        Test-MyHvProcessAlive -ProcessId $p.Id | Should -BeFalse
    }

    It 'a Process record whose pid now belongs to another process (<Case>) is not signalled' -ForEach @(
        @{ Case = 'wrong start ticks'; TickDelta = 1000; Boot = 'same'; Exe = '/usr/bin/sleep' }
        @{ Case = 'another boot'; TickDelta = 0; Boot = 'other'; Exe = '/usr/bin/sleep' }
        @{ Case = 'another executable'; TickDelta = 0; Boot = 'same'; Exe = '/usr/bin/qemu-system-x86_64' }
    ) {
        $sleep = Start-TestProcess
        $ticks = Get-MyHvProcessStartTicks -ProcessId $sleep.Id
        $boot = if ($Boot -eq 'same') { $bootId } else { [guid]::NewGuid().ToString() }
        $identity = [MyHypervisor.Core.Processes.ProcessIdentity]::new($sleep.Id, [uint64] ($ticks + $TickDelta), $boot, $Exe)
        $record = New-Record @{ Seq = 1; Kind = 'Process'; Step = 'hypervisor-launch'; Program = $Exe; Process = $identity }

        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($record).Result)" | Should -Be 'AlreadyGone'
        Start-Sleep -Milliseconds 200
        Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeTrue
        Get-MyHvProcessStartTicks -ProcessId $sleep.Id | Should -Be $ticks
        $sleep.HasExited | Should -BeFalse

        # Control: the true identity of the same process is ended by the same undo.
        $true_ = New-Record @{ Seq = 1; Kind = 'Process'; Step = 'hypervisor-launch'; Program = '/usr/bin/sleep'; Process = (Get-Identity $sleep.Id) }
        "$([MyHypervisor.Core.Ledger.ArtifactUndo]::Undo($true_).Result)" | Should -Be 'Removed'
        Test-MyHvProcessAlive -ProcessId $sleep.Id | Should -BeFalse
    }
}
