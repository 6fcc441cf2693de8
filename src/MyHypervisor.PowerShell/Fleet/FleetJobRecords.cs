using System.Management.Automation;

namespace MyHypervisor.PowerShell.Fleet;

/// <summary>
/// What -AsJob with -VmHost hands to its <see cref="FleetJob"/>: the parameters every record
/// shares, and one object per record with what that record bound from the pipeline (-Name,
/// -VmHost), so the job's command receives the records as the foreground command would have.
/// </summary>
internal sealed class FleetJobRecords
{
    /// <summary>Parameters a record may bind from the pipeline by property name.</summary>
    private static readonly string[] PerRecord = { "Name", "VmHost" };
    /// <summary>Not for the job's command: it is the job; the variables are this session's; the confirmation was asked here.</summary>
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
        { "AsJob", "WhatIf", "Confirm", "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable" };

    private readonly List<PSObject> records = new();
    private readonly SortedSet<string> hosts = new(StringComparer.OrdinalIgnoreCase);
    private Dictionary<string, object?>? shared;

    public bool Any => records.Count > 0;

    /// <summary>Takes one record's bound parameters (pipeline thread).</summary>
    public void Add(IDictionary<string, object> bound)
    {
        if (shared is null)
        {
            shared = bound.Where(p => !NotForwarded.Contains(p.Key) && !PerRecord.Contains(p.Key, StringComparer.OrdinalIgnoreCase))
                .ToDictionary(p => p.Key, p => (object?)p.Value, StringComparer.OrdinalIgnoreCase);
            shared["Confirm"] = new SwitchParameter(false);
        }
        var record = new PSObject();
        foreach (var key in PerRecord)
            if (bound.TryGetValue(key, out var value)) record.Properties.Add(new PSNoteProperty(key, value));
        if (bound.TryGetValue("VmHost", out var vmHost) && vmHost is string[] names) hosts.UnionWith(names);
        records.Add(record);
    }

    /// <summary>The module's manifest (the cmdlet's own module is the binary one inside it), so the job's runspace has the same module.</summary>
    private static string ModuleToImport(PSModuleInfo? module)
    {
        if (module is null) return typeof(FleetJob).Assembly.Location;
        var manifest = Path.Combine(module.ModuleBase, VmHostSessions.ModuleName + ".psd1");
        return File.Exists(manifest) ? manifest : module.Path;
    }

    public FleetJob Start(PSCmdlet cmdlet)
    {
        var command = cmdlet.MyInvocation.MyCommand;
        var module = ModuleToImport(command.Module);
        var text = string.IsNullOrWhiteSpace(cmdlet.MyInvocation.Line) ? command.Name : cmdlet.MyInvocation.Line.Trim();
        var job = new FleetJob(text, $"{VmHostSessions.ModuleName}\\{command.Name}", module, shared ?? new(), records,
            VmHostRegistry.Current, string.Join(", ", hosts));
        cmdlet.JobRepository.Add(job);
        job.StartInBackground();
        return job;
    }
}
