namespace MyHypervisor.Core.Vms;

/// <summary>The rungs of the stop ladder, politest first.</summary>
public enum StopMethod
{
    /// <summary>The guest powered itself off after the ACPI power button.</summary>
    GuestPowerOff,
    /// <summary>The guest ignored the power button and powered off when its guest agent was sent guest-shutdown.</summary>
    GuestAgentShutdown,
    /// <summary>The hypervisor was asked to quit through its API.</summary>
    HypervisorQuit,
    /// <summary>The hypervisor process was sent SIGTERM.</summary>
    Terminate,
    /// <summary>The hypervisor process was sent SIGKILL.</summary>
    Kill,
    /// <summary>The hypervisor was already gone when stop looked (it exited on its own or crashed).</summary>
    AlreadyExited,
}
