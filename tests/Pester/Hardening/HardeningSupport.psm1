<#
Helpers shared by the suites in tests/Pester/Hardening that prove the module's promises under
unlucky timing and hostile peers. Import after TestHelpers.psm1:

    Import-Module (Join-Path $PSScriptRoot 'HardeningSupport.psm1') -Force

MyHvTests.StopTrigger stops a pipeline (or a job) at a chosen moment: when a progress or verbose
record matching a pattern is written. The record is seen on the writer's own thread (DataAdded
fires synchronously), and the stop is requested from there asynchronously (BeginStop), exactly
as Ctrl+C arrives: while the cmdlet goes on running. So the moment is the point right after that
record, not some sleep that a busy host would stretch.
#>

Set-StrictMode -Version 3.0

if (-not ('MyHvTests.StopTrigger' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Management.Automation;
using System.Text.RegularExpressions;
using System.Threading;

namespace MyHvTests
{
    public sealed class StopTrigger
    {
        private readonly Regex pattern;
        private readonly Action stop;
        private int fired;
        public readonly ManualResetEventSlim FiredEvent = new ManualResetEventSlim(false);
        public string FiredOn;
        public DateTime FiredAt;

        private StopTrigger(string pattern, Action stop)
        {
            this.pattern = new Regex(pattern);
            this.stop = stop;
        }

        public bool Fired { get { return fired == 1; } }

        /// <summary>PowerShell.BeginStop() at the first progress status (or verbose message) matching the pattern.</summary>
        public static StopTrigger ForPipeline(PowerShell ps, string stream, string pattern)
        {
            var trigger = new StopTrigger(pattern, () => ps.BeginStop(null, null));
            trigger.Watch(ps.Streams.Progress, ps.Streams.Verbose, stream);
            return trigger;
        }

        /// <summary>Only signals FiredEvent (the caller then runs Stop-Job, which must not run on the job's own thread).</summary>
        public static StopTrigger ForJob(Job job, string stream, string pattern)
        {
            var trigger = new StopTrigger(pattern, () => { });
            trigger.Watch(job.Progress, job.Verbose, stream);
            return trigger;
        }

        private void Watch(PSDataCollection<ProgressRecord> progress, PSDataCollection<VerboseRecord> verbose, string stream)
        {
            if (stream == "Progress")
                progress.DataAdded += (s, e) => Check(((PSDataCollection<ProgressRecord>)s)[e.Index].StatusDescription);
            else
                verbose.DataAdded += (s, e) => Check(((PSDataCollection<VerboseRecord>)s)[e.Index].Message);
        }

        private void Check(string text)
        {
            if (text == null || !pattern.IsMatch(text)) return;
            if (Interlocked.Exchange(ref fired, 1) == 1) return;
            FiredOn = text;
            FiredAt = DateTime.UtcNow;
            stop();
            FiredEvent.Set();
        }
    }
}
'@
}

function New-HtRunspace {
    <# A runspace with the BUILT module imported, for [powershell] instances that a test stops. #>
    $iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
    $iss.ImportPSModule((Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'))
    $runspace = [runspacefactory]::CreateRunspace($iss)
    $runspace.Open()
    $runspace
}

function Invoke-HtStoppedCommand {
    <#
    .SYNOPSIS
        Runs one command in -Runspace and stops its pipeline at the first -Stream record matching
        -Pattern. Returns when the command has returned (Invoke() returns only once the pipeline
        stopped), with what the trigger saw and what the command threw.
    #>
    param(
        [Parameter(Mandatory)] $Runspace,
        [Parameter(Mandatory)] [string] $Command,
        [hashtable] $Parameters = @{},
        [ValidateSet('Progress', 'Verbose')] [string] $Stream = 'Progress',
        [Parameter(Mandatory)] [string] $Pattern
    )
    $ps = [powershell]::Create()
    try {
        $ps.Runspace = $Runspace
        $null = $ps.AddCommand($Command)
        foreach ($key in $Parameters.Keys) { $null = $ps.AddParameter($key, $Parameters[$key]) }
        $trigger = [MyHvTests.StopTrigger]::ForPipeline($ps, $Stream, $Pattern)
        $thrown = $null
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        try { $null = $ps.Invoke() }
        catch { $thrown = $_.Exception.InnerException ?? $_.Exception }
        [pscustomobject]@{
            Fired        = $trigger.Fired
            FiredOn      = $trigger.FiredOn
            Stopped      = $ps.InvocationStateInfo.State -eq 'Stopped'
            Thrown       = if ($thrown) { $thrown.GetType().FullName } else { $null }
            ElapsedMs    = $watch.ElapsedMilliseconds
            ErrorRecords = @($ps.Streams.Error | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" })
        }
    }
    finally { $ps.Dispose() }
}

function Get-HtRecordedState {
    <# state.json as it is on disk (read directly: no module command, so nothing reconciles first). #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $file = Join-Path $HomePath "vms/$Name/state.json"
    if (-not (Test-Path -LiteralPath $file)) { return $null }
    Get-Content -Raw -LiteralPath $file | ConvertFrom-Json
}

Export-ModuleMember -Function New-HtRunspace, Invoke-HtStoppedCommand, Get-HtRecordedState
