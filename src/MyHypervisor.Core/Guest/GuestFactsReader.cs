using System.Text.Json.Nodes;

namespace MyHypervisor.Core.Guest;

/// <summary>Reads the guest's facts from its agent: guest-info, guest-get-host-name, guest-get-osinfo, guest-network-get-interfaces.</summary>
public static class GuestFactsReader
{
    private static readonly TimeSpan Each = TimeSpan.FromSeconds(10);

    public static GuestFacts Read(GuestAgentConnection agent, string vmName, CancellationToken cancel)
    {
        var info = agent.Execute("guest-info", null, Each, cancel);
        var host = agent.Execute("guest-get-host-name", null, Each, cancel);
        JsonNode? os = null;
        try { os = agent.Execute("guest-get-osinfo", null, Each, cancel); }
        catch (GuestAgentCommandException) { }   // an older agent, or no /etc/os-release
        return new GuestFacts
        {
            VmName = vmName,
            AgentStatus = GuestAgentStatus.Answering,
            AgentVersion = Text(info?["version"]),
            HostName = Text(host?["host-name"]),
            OsName = Text(os?["name"]) ?? Text(os?["pretty-name"]),
            OsVersion = Text(os?["version-id"]) ?? Text(os?["version"]),
            KernelRelease = Text(os?["kernel-release"]),
            KernelVersion = Text(os?["kernel-version"]),
            Machine = Text(os?["machine"]),
            Interfaces = Interfaces(agent, cancel),
        };
    }

    public static GuestInterface[] Interfaces(GuestAgentConnection agent, CancellationToken cancel, TimeSpan? timeout = null)
    {
        var reply = agent.Execute("guest-network-get-interfaces", null, timeout ?? Each, cancel) as JsonArray ?? new JsonArray();
        return reply.OfType<JsonObject>().Select(i => new GuestInterface(
            Text(i["name"]) ?? "?",
            Text(i["hardware-address"]),
            (i["ip-addresses"] as JsonArray ?? new JsonArray()).OfType<JsonObject>()
                .Select(a => $"{Text(a["ip-address"])}/{a["prefix"]}").ToArray())).ToArray();
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
