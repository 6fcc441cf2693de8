using System.Globalization;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.Hypervisors.Qemu;

/// <summary>Builds QEMU's argument list (a list, never a shell string) for one VM.</summary>
public static class QemuCommandLine
{
    /// <summary>The virtio-serial port name the guest's init looks for.</summary>
    public const string ChannelPortName = "org.myhypervisor.guest.0";
    /// <summary>The port name qemu-ga opens by default (/dev/virtio-ports/org.qemu.guest_agent.0).</summary>
    public const string AgentPortName = "org.qemu.guest_agent.0";

    public static IReadOnlyList<string> Build(LaunchRequest r)
    {
        var d = r.Definition;
        var args = new List<string>
        {
            "-name", $"guest={d.Name}",
            "-nodefaults", "-no-user-config",
            "-display", "none",
            "-accel", TcgMemorySettings.AcceleratorOption(r.Accelerator, d),
            "-smp", d.Cpus.ToString(CultureInfo.InvariantCulture),
            "-m", $"{d.MemoryMiB}M",
            // A guest reboot ends the process, as on a microVM: the module's status stays honest.
            "-no-reboot",
        };
        // A whole-disk image: QEMU's firmware (SeaBIOS, the default for -machine pc) boots the
        // disk's own boot loader. Otherwise QEMU loads the image's kernel directly.
        args.AddRange(r.Image.Kernel is { } kernel
            ? new[] { "-kernel", kernel, "-append", r.KernelCommandLine }
            : new[] { "-boot", "strict=on" });
        args.AddRange(new[]
        {
            "-drive", $"file={Escape(r.OverlayDisk)},if=none,id=disk0,format=qcow2,cache=writeback",
            // The firmware boots the root disk only (strict): never the seed disk's FAT boot sector.
            "-device", r.Image.Kernel is null ? "virtio-blk-pci,drive=disk0,bootindex=0" : "virtio-blk-pci,drive=disk0",
        });
        // The console log is opened for appending (append=on, logappend=on: O_APPEND), so the module
        // can trim it under QEMU (see ConsoleLog); QemuDriver empties the log for each new run.
        // With a console socket, the socket chardev still logs every byte the guest writes,
        // whether or not anyone is attached.
        args.AddRange(r.ConsoleSocket is null
            ? new[] { "-chardev", $"file,id=serial0,path={Escape(r.ConsoleLog)},append=on", "-serial", "chardev:serial0" }
            : new[] { "-chardev", $"socket,id=serial0,path={Escape(r.ConsoleSocket)},server=on,wait=off,logfile={Escape(r.ConsoleLog)},logappend=on",
                      "-serial", "chardev:serial0" });
        if (r.Image.Kernel is not null && r.Image.Initrd is not null) args.AddRange(new[] { "-initrd", r.Image.Initrd });
        if (r.SeedDisk is not null)
            args.AddRange(new[] { "-drive", $"file={Escape(r.SeedDisk)},if=none,id=seed0,format=raw,readonly=on",
                                  "-device", "virtio-blk-pci,drive=seed0" });

        switch (d.Network.Mode)
        {
            case NetworkMode.User:
                // SSH: a forward on 127.0.0.1 only, never on the host's other addresses.
                var forward = r.SshPort is { } ssh ? $",hostfwd=tcp:127.0.0.1:{ssh}-:22" : "";
                args.AddRange(new[] { "-netdev", $"user,id=net0{forward}", "-device", $"virtio-net-pci,netdev=net0,mac={d.Network.MacAddress}" });
                break;
            case NetworkMode.Bridge:
                args.AddRange(new[] { "-netdev", $"tap,id=net0,ifname={r.TapDevice},script=no,downscript=no",
                                      "-device", $"virtio-net-pci,netdev=net0,mac={d.Network.MacAddress}" });
                break;
        }

        if (r.VolumeSockets.Count > 0)
        {
            // vhost-user needs guest memory that virtiofsd can map: a shared memfd backend.
            args.AddRange(new[] { "-object", $"memory-backend-memfd,id=mem0,size={d.MemoryMiB}M,share=on", "-numa", "node,memdev=mem0" });
            var i = 0;
            foreach (var (tag, socket) in r.VolumeSockets)
            {
                args.AddRange(new[] { "-chardev", $"socket,id=fs{i},path={Escape(socket)}",
                                      "-device", $"vhost-user-fs-pci,chardev=fs{i},tag={tag}" });
                i++;
            }
        }

        // Resume a memory checkpoint: the disk goes back to it and the guest's memory, devices
        // and clock are loaded before its CPUs run (a tag checked by CheckpointNameRules).
        if (r.LoadCheckpoint is not null) args.AddRange(new[] { "-loadvm", r.LoadCheckpoint });

        args.AddRange(new[]
        {
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", $"socket,id=chan0,path={Escape(r.ChannelSocket)},server=on,wait=off",
            "-device", $"virtserialport,bus=vser0.0,chardev=chan0,name={ChannelPortName}",
            "-chardev", $"socket,id=agent0,path={Escape(r.AgentSocket)},server=on,wait=off",
            "-device", $"virtserialport,bus=vser0.0,chardev=agent0,name={AgentPortName}",
        });
        // After every other device, so that the PCI addresses of those stay as they were without it.
        args.AddRange(TcgMemorySettings.BalloonArguments(r.Accelerator, d));
        args.AddRange(new[]
        {
            "-qmp", $"unix:{Escape(r.ApiSocket)},server=on,wait=off",
            "-pidfile", r.PidFile,
            "-daemonize",
        });
        return args;
    }

    /// <summary>QEMU option values separate with commas; a literal comma is written twice.</summary>
    private static string Escape(string value) => value.Replace(",", ",,");
}
