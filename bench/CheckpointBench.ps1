# Checkpoint figures for bench/Invoke-Benchmark.ps1 (dot-sourced there; defines functions only):
#   8. a memory checkpoint's restore to a ready guest, against a cold start to a ready guest of the
#      same VM, interleaved in one run (target: ratio <= 0.3);
#   9. the time Checkpoint-MyVm takes for a running 256 MiB guest.
# Uses the caller's Measure-Call, Get-CallSummary, Get-Ratio, Get-Verdict, Write-BenchLine, Add-Line.

Set-StrictMode -Version 3.0

function Measure-CheckpointBench {
    <# Returns the figure (an ordered dictionary); the VM it makes is removed again. #>
    param([int] $Repetitions = 5)
    $name = 'ckpt'
    $null = New-MyVm -Name $name -Image tiny -Cpus 1 -MemoryMiB 256 -Network None -ErrorAction Stop
    try {
        # Ready = the guest's agent runs a command: the same end point for both ways of getting there.
        $ready = { $r = Invoke-MyVmCommand -Name $name -FilePath /bin/true -TimeoutSeconds 120 -ErrorAction Stop; if ($r.ExitCode -ne 0) { throw 'guest command failed' } }
        $null = Start-MyVm -Name $name -Wait -TimeoutSeconds 600 -ErrorAction Stop
        & $ready
        # The first checkpoint of a freshly booted guest; those of the rounds follow a restore, whose
        # disk still maps the restored checkpoint's saved state, so QEMU reallocates it while saving.
        $first = Measure-Call { $null = Checkpoint-MyVm -Name $name -CheckpointName 'ready' -ErrorAction Stop }
        $cold = New-CallList; $restore = New-CallList; $create = New-CallList
        for ($i = 1; $i -le $Repetitions; $i++) {
            $null = Stop-MyVm -Name $name -Force -ErrorAction Stop
            $cold.Add((Measure-Call { $null = Start-MyVm -Name $name -Wait -TimeoutSeconds 600 -ErrorAction Stop; & $ready }))
            $null = Stop-MyVm -Name $name -Force -ErrorAction Stop
            $restore.Add((Measure-Call { $null = Restore-MyVmCheckpoint -Name $name -CheckpointName 'ready' -Wait -TimeoutSeconds 600 -ErrorAction Stop; & $ready }))
            $create.Add((Measure-Call { $null = Checkpoint-MyVm -Name $name -CheckpointName "bench$i" -ErrorAction Stop }))
            Remove-MyVmCheckpoint -Name $name -CheckpointName "bench$i" -ErrorAction Stop
            Write-BenchLine ("checkpoint round {0}: cold start {1:0} ms, restore {2:0} ms, checkpoint {3:0} ms" -f $i, $cold[-1].Wall, $restore[-1].Wall, $create[-1].Wall)
        }
        $figure = New-PairedFigure -Title 'Restore of a memory checkpoint vs a cold start, to a ready guest' -Module $restore -Baseline $cold -Target 0.3 -TargetText 'ratio <= 0.3' `
            -Method "A tiny guest (1 vCPU, 256 MiB, -Network None, accelerator as above) with a memory checkpoint 'ready' taken once its agent answered. Each of $Repetitions rounds, after Stop-MyVm -Force (not timed): a cold Start-MyVm -Wait, then Restore-MyVmCheckpoint -Wait from the stopped VM, each followed by Invoke-MyVmCommand -FilePath /bin/true (timed: ready means the agent ran a command). Then Checkpoint-MyVm of the running, restored guest (timed, figure 9) and Remove-MyVmCheckpoint (not timed). Figure 9 also gives the one checkpoint taken right after the first cold boot."
        $figure['checkpointCreate'] = Get-CallSummary $create
        $figure['checkpointCreateAfterBoot'] = Get-CallSummary @($first)
        $figure['checkpointStateBytes'] = (Get-MyVmCheckpoint -Name $name -CheckpointName 'ready').MemoryStateBytes
        $figure
    }
    finally {
        Remove-MyVm -Name $name -Force -Confirm:$false -ErrorAction SilentlyContinue
    }
}

function Add-CheckpointResultLine {
    <# The figure's rows in results.md's table. #>
    param($Figure)
    if ($null -eq $Figure) {
        Add-Line '| 8 | Checkpoint restore vs cold start | not measured | | | ratio <= 0.3 | ERROR | |'
        return
    }
    Add-Line "| 8 | Restore-MyVmCheckpoint -Wait (memory) to a ready guest | $(Format-Summary $Figure.module.wall) | $(Format-Summary $Figure.byHand.wall) cold Start-MyVm -Wait | $(Format-Paired $Figure) | $($Figure.target) | $($Figure.verdict.text) | $(Format-Ratio $Figure.adjustedRatio), $($Figure.adjustedVerdict.text) |"
    Add-Line "| 9 | Checkpoint-MyVm of a running 256 MiB guest ($([Math]::Round($Figure.checkpointStateBytes / 1MB)) MiB of state), after a restore | $(Format-Summary $Figure.checkpointCreate.wall) | | | reported | | |"
    Add-Line "| 9 | ... the first one, after a cold boot | $(Format-Summary $Figure.checkpointCreateAfterBoot.wall) | | | reported | | |"
}
