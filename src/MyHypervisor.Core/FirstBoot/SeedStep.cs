using MyHypervisor.Core.Ledger;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.FirstBoot;

/// <summary>The start step 'seed': the NoCloud seed disk in the run folder, a run artifact in the ledger.</summary>
public static class SeedStep
{
    public static string Create(StartTransaction transaction, VmDefinition definition, string runtimeDirectory)
    {
        var settings = definition.FirstBoot!;
        var path = Path.Combine(runtimeDirectory, NoCloudSeed.FileName);
        transaction.Intend(new ArtifactRecord { Kind = ArtifactKind.File, Step = Lifecycle.StartSteps.Seed, Path = path });
        NoCloudSeed.Create(path,
            NoCloudSeed.MetaData(definition.Id, settings.HostName ?? definition.Name, settings.SshPublicKeys),
            NoCloudSeed.UserData(settings.UserData));
        return path;
    }
}
