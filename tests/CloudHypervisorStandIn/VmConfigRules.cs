using System.Text.Json.Nodes;

namespace CloudHypervisorStandIn;

/// <summary>
/// vm.create's body checked as CH checks a VmConfig: the field names of its OpenAPI schema (a
/// misspelt field is refused, so a driver typo fails its test), then CH's own validation rules
/// that the driver's choices depend on (vCPU counts, shared memory for virtio-fs, a vsock CID,
/// a serial file). Checks of files (kernel, disks) happen at vm.boot, as in CH.
/// </summary>
public static class VmConfigRules
{
    private static readonly Dictionary<string, string[]> Fields = new()
    {
        ["VmConfig"] = new[] { "cpus", "memory", "payload", "rate_limit_groups", "disks", "net", "rng", "balloon", "fs", "pmem", "serial",
            "console", "debug_console", "devices", "user_devices", "vdpa", "vsock", "sgx_epc", "numa", "iommu", "watchdog", "pvpanic",
            "pci_segments", "platform", "tpm", "landlock_enable", "landlock_rules" },
        ["payload"] = new[] { "firmware", "kernel", "cmdline", "initramfs", "igvm", "host_data" },
        ["cpus"] = new[] { "boot_vcpus", "max_vcpus", "topology", "kvm_hyperv", "max_phys_bits", "affinity", "features", "nested" },
        ["memory"] = new[] { "size", "hotplug_size", "hotplugged_size", "mergeable", "hotplug_method", "shared", "hugepages",
            "hugepage_size", "prefault", "thp", "zones" },
        ["disks"] = new[] { "path", "readonly", "direct", "iommu", "num_queues", "queue_size", "vhost_user", "vhost_socket",
            "rate_limit_group", "rate_limiter_config", "pci_segment", "id", "serial", "queue_affinity", "backing_files", "sparse", "image_type" },
        ["net"] = new[] { "tap", "ip", "mask", "mac", "host_mac", "mtu", "iommu", "num_queues", "queue_size", "vhost_user", "vhost_socket",
            "vhost_mode", "id", "fds", "rate_limiter_config", "pci_segment", "offload_tso", "offload_ufo", "offload_csum" },
        ["fs"] = new[] { "tag", "socket", "num_queues", "queue_size", "pci_segment", "id" },
        ["vsock"] = new[] { "cid", "socket", "iommu", "pci_segment", "id" },
        ["serial"] = new[] { "file", "mode", "iommu", "socket" },
        ["console"] = new[] { "file", "mode", "iommu", "socket" },
    };

    /// <summary>Null when the body is a VmConfig CH would create; otherwise (HTTP status, CH-style message).</summary>
    public static (int Status, string Message)? Check(JsonObject config)
    {
        if (Unknown("VmConfig", config) is { } top) return (400, top);
        foreach (var (name, node) in config)
        {
            if (!Fields.ContainsKey(name) || node is null) continue;
            foreach (var item in node is JsonArray list ? list.ToArray() : new[] { node })
                if (item is JsonObject o && Unknown(name, o) is { } inner) return (400, inner);
        }
        if (config["payload"] is not JsonObject payload || (payload["kernel"] is null && payload["firmware"] is null))
            return (500, "Error creating VM: ConfigValidation(KernelMissing): no kernel or firmware in the payload");
        var boot = Int(config["cpus"]?["boot_vcpus"]) ?? 1;
        var max = Int(config["cpus"]?["max_vcpus"]) ?? boot;
        if (boot < 1 || boot > 254 || max < boot)
            return (500, $"Error creating VM: ConfigValidation(CpusMaxLowerThanBoot): boot_vcpus {boot}, max_vcpus {max}");
        var size = Int(config["memory"]?["size"]) ?? 512L * 1024 * 1024;
        if (size <= 0 || size % 4096 != 0) return (500, $"Error creating VM: ConfigValidation(InvalidMemorySize): {size}");
        var shared = config["memory"]?["shared"] is JsonValue s && s.TryGetValue<bool>(out var b) && b;
        if (config["fs"] is JsonArray { Count: > 0 } && !shared)
            return (500, "Error creating VM: ConfigValidation(VhostUserRequiresSharedMemory): virtio-fs needs memory shared=on");
        if (config["fs"] is JsonArray fs)
            foreach (var f in fs)
                if (f?["tag"] is null || f["socket"] is null) return (500, "Error creating VM: ConfigValidation(FsTagOrSocketMissing)");
        if (config["vsock"] is JsonObject vsock && ((Int(vsock["cid"]) ?? 0) < 3 || vsock["socket"] is null))
            return (500, "Error creating VM: ConfigValidation(VsockInvalid): cid must be 3 or more, socket is required");
        foreach (var console in new[] { "serial", "console" })
            if (config[console] is JsonObject c)
            {
                var mode = c["mode"]?.GetValue<string>();
                if (mode is not ("Off" or "Null" or "File" or "Tty" or "Pty" or "Socket"))
                    return (400, $"unknown variant `{mode}`, expected one of `Off`, `Pty`, `Tty`, `File`, `Socket`, `Null`");
                if (mode == "File" && c["file"] is null) return (500, $"Error creating VM: ConfigValidation(ConsoleFileMissing): {console}");
            }
        return null;
    }

    private static string? Unknown(string schema, JsonObject o)
    {
        foreach (var (key, _) in o)
            if (!Fields[schema].Contains(key))
                return $"unknown field `{key}` in {schema}, expected one of {string.Join(", ", Fields[schema].Select(f => $"`{f}`"))}";
        return null;
    }

    public static long? Int(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var l) ? l : null;
}
