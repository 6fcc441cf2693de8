# Part of MyHvTestKit.psm1: capturing what a command wrote, stream by stream, and stopping a pipeline
# at a chosen moment (as Ctrl+C would) in a runspace with the built module.

function Invoke-MyHvCapture {
    <#
    .SYNOPSIS
        Runs a script block and separates what it wrote from its errors, terminating or not.
    .DESCRIPTION
        The script block runs in the caller's scope chain (it sees the caller's variables) with
        $ErrorActionPreference 'Continue' for its duration, so a non-terminating error is collected
        and the block goes on.
    .OUTPUTS
        [pscustomobject] Output (objects), Errors (ErrorRecords, in order), Terminated (a terminating error ended it).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [scriptblock] $Script)
    $output = [System.Collections.Generic.List[object]]::new()
    $errors = [System.Collections.Generic.List[System.Management.Automation.ErrorRecord]]::new()
    $terminated = $false
    # The block is bound to the caller's session state: set the preference there (and put it back).
    $callerVariables = $PSCmdlet.SessionState.PSVariable
    $saved = $callerVariables.GetValue('ErrorActionPreference')
    $callerVariables.Set('ErrorActionPreference', [System.Management.Automation.ActionPreference]::Continue)
    try {
        # Streamed, so what came before a terminating error is kept.
        & $Script 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) { $errors.Add($_) } else { $output.Add($_) }
        }
    }
    catch {
        $errors.Add($_)
        $terminated = $true
    }
    finally { $callerVariables.Set('ErrorActionPreference', $saved) }
    [pscustomobject]@{ Output = $output.ToArray(); Errors = $errors.ToArray(); Terminated = $terminated }
}

function Invoke-MyHvCaptured {
    <#
    .SYNOPSIS
        Runs a script in a fresh runspace of this process with the module imported, and returns
        its output and every stream (Progress, Verbose, Error, Warning) as the cmdlets wrote them.
    .DESCRIPTION
        Progress records cannot be redirected in a script; a PowerShell instance's Streams.Progress
        receives them exactly as a host would. The environment (MYHV_HOME etc.) is the process's.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Script, [hashtable] $Arguments = @{})
    $ps = [powershell]::Create()
    try {
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Get-MyHvBuiltManifest)).AddParameter('ErrorAction', 'Stop').AddStatement()
        $null = $ps.AddScript($Script)
        foreach ($key in $Arguments.Keys) { $null = $ps.AddParameter($key, $Arguments[$key]) }
        $output = $ps.Invoke()
        [pscustomobject]@{
            Output   = @($output)
            Progress = @($ps.Streams.Progress)
            Verbose  = @($ps.Streams.Verbose | ForEach-Object Message)
            Error    = @($ps.Streams.Error)
            Warning  = @($ps.Streams.Warning | ForEach-Object Message)
        }
    }
    finally { $ps.Dispose() }
}

function New-MyHvModuleRunspace {
    <# An open runspace with the BUILT module imported, for [powershell] instances that a test stops. #>
    [CmdletBinding()]
    param()
    $iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
    $iss.ImportPSModule((Get-MyHvBuiltManifest))
    $runspace = [runspacefactory]::CreateRunspace($iss)
    $runspace.Open()
    $runspace
}

function Initialize-MyHvStopTrigger {
    <#
    .SYNOPSIS
        Compiles MyHvTests.StopTrigger once per process (on first use, so a suite that never stops a
        pipeline does not pay for the compiler).
    .DESCRIPTION
        StopTrigger stops a pipeline (or signals for a job) when a progress or verbose record matching
        a pattern is written. The record is seen on the writer's own thread (DataAdded fires
        synchronously), and the stop is requested from there asynchronously (BeginStop), exactly as
        Ctrl+C arrives: while the cmdlet goes on running. So the moment is the point right after that
        record, not some sleep that a busy host would stretch.
    #>
    [CmdletBinding()]
    param()
    if ('MyHvTests.StopTrigger' -as [type]) { return }
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

function Invoke-MyHvStoppedCommand {
    <#
    .SYNOPSIS
        Runs one command in -Runspace and stops its pipeline at the first -Stream record matching
        -Pattern. Returns when the command has returned (Invoke() returns only once the pipeline
        stopped), with what the trigger saw and what the command threw.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Runspace,
        [Parameter(Mandatory)] [string] $Command,
        [hashtable] $Parameters = @{},
        [ValidateSet('Progress', 'Verbose')] [string] $Stream = 'Progress',
        [Parameter(Mandatory)] [string] $Pattern
    )
    Initialize-MyHvStopTrigger
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

function Initialize-MyHvFakePeer {
    <#
    Compiles the fake peers once per process, in one assembly with the socket server they share
    (FakeSocketPeer.cs): MyHvTests.FakeQmpPeer (a hostile or stuck QMP server) and
    MyHvTests.FakeGuestAgentPeer (a noisy or hostile guest agent), on threads of this process.
    #>
    [CmdletBinding()]
    param()
    if ('MyHvTests.FakeSocketPeer' -as [type]) { return }
    Add-Type -LiteralPath (@('FakeSocketPeer.cs', 'FakeQmpPeer.cs', 'FakeGuestAgentPeer.cs') | ForEach-Object { Join-Path $PSScriptRoot $_ })
}
