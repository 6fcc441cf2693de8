using System.Text.Json.Nodes;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors.CloudHypervisor;

/// <summary>
/// The VmConfig body of PUT vm.create (CH's OpenAPI schema) for one VM: kernel, initramfs and
/// command line, CPUs, memory (shared when virtiofs needs it), the overlay disk and the seed disk,
/// the TAP device, one fs entry per virtiofsd socket, a hybrid vsock under the runtime folder and
/// the serial line to the console log. JSON carries every path as it is: CH's command-line
/// option syntax splits values at commas with no escape, so a path with a comma could not be said there.
/// </summary>
public static class CloudHypervisorVmConfig
{
    /// <summary>The guest's vsock CID. Hybrid vsock is a unix socket per VM, so no host-wide uniqueness is needed.</summary>
    public const uint GuestCid = 3;
    /// <summary>The guest's vsock port for the readiness channel (the role of QEMU's org.myhypervisor.guest.0 port).</summary>
    public const uint ChannelPort = 1024;

    public static JsonObject Build(LaunchRequest r, string vsockSocket)
    {
        var d = r.Definition;
        var payload = new JsonObject { ["kernel"] = r.Image.Kernel, ["cmdline"] = r.KernelCommandLine };
        if (r.Image.Initrd is not null) payload["initramfs"] = r.Image.Initrd;
        // The overlay is qcow2 over the image's disk: CH opens a backing file only when told it may.
        var disks = new JsonArray { new JsonObject { ["path"] = r.OverlayDisk, ["backing_files"] = true, ["id"] = "disk0" } };
        if (r.SeedDisk is not null) disks.Add(new JsonObject { ["path"] = r.SeedDisk, ["readonly"] = true, ["id"] = "seed0" });
        var config = new JsonObject
        {
            ["payload"] = payload,
            ["cpus"] = new JsonObject { ["boot_vcpus"] = d.Cpus, ["max_vcpus"] = d.Cpus },
            ["memory"] = new JsonObject { ["size"] = (long)d.MemoryMiB * 1024 * 1024, ["shared"] = r.VolumeSockets.Count > 0 },
            ["disks"] = disks,
            ["vsock"] = new JsonObject { ["cid"] = GuestCid, ["socket"] = vsockSocket, ["id"] = "vsock0" },
            ["serial"] = new JsonObject { ["mode"] = "File", ["file"] = r.ConsoleLog },
            ["console"] = new JsonObject { ["mode"] = "Off" },
        };
        if (d.Network.Mode == NetworkMode.Bridge)
            config["net"] = new JsonArray { new JsonObject { ["tap"] = r.TapDevice, ["mac"] = d.Network.MacAddress, ["id"] = "net0" } };
        if (r.VolumeSockets.Count > 0)
        {
            var fs = new JsonArray();
            foreach (var (tag, socket) in r.VolumeSockets)
                fs.Add(new JsonObject { ["tag"] = tag, ["socket"] = socket, ["num_queues"] = 1, ["queue_size"] = 1024, ["id"] = "fs-" + tag });
            config["fs"] = fs;
        }
        return config;
    }
}
