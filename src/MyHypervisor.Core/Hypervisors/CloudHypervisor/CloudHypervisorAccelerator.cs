using MyHypervisor.Core.Errors;

namespace MyHypervisor.Core.Hypervisors.CloudHypervisor;

/// <summary>
/// Cloud Hypervisor has no emulator: it runs on KVM (or MSHV) only, and opens /dev/kvm itself when
/// the VM is created (a host without KVM gets CH's own error, with its cause, from vm.create).
/// So there is nothing to choose and no QEMU probe to run; only an explicit MYHV_ACCEL=tcg is
/// refused up front, as it cannot be honoured.
/// </summary>
public static class CloudHypervisorAccelerator
{
    public static (string Accelerator, string Reason) Select(string vm)
    {
        var wanted = (Environment.GetEnvironmentVariable(AcceleratorSelector.Variable) ?? "auto").Trim().ToLowerInvariant();
        return wanted switch
        {
            "auto" or "" or "kvm" => ("kvm", "Cloud Hypervisor runs on KVM only; it opens /dev/kvm itself"),
            "tcg" => throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"VM '{vm}' runs on Cloud Hypervisor, which has no TCG emulation, but {AcceleratorSelector.Variable}=tcg. " +
                $"Unset {AcceleratorSelector.Variable} (or set it to auto or kvm) on a KVM host, or use a QEMU VM.", vm),
            _ => throw new MyHvException(MyHvErrorKind.InvalidVmSpec, $"{AcceleratorSelector.Variable} is '{wanted}'; use auto, kvm or tcg.", vm),
        };
    }
}
