using System.Net.Sockets;
using CloudHypervisorStandIn;

// A STAND-IN for Cloud Hypervisor, for the module's tests: see the project file and StandInVmm.
try
{
    var commandLine = CommandLine.Parse(args);
    if (commandLine.Version)
    {
        Console.WriteLine($"cloud-hypervisor {StandInVmm.Version} (stand-in for tests, not Cloud Hypervisor)");
        return 0;
    }
    if (commandLine.ApiSocketFd is not null)
    {
        Console.Error.WriteLine("Error: the stand-in does not model --api-socket fd=<fd>; use path=");
        return 1;
    }
    if (commandLine.ApiSocketPath is null)
    {
        // CH with neither an API socket nor a VM has nothing to do; it says so and exits.
        Console.Error.WriteLine("Error: neither --api-socket nor a VM configuration (--kernel/--firmware) was given");
        return 1;
    }
    var vmm = new StandInVmm(commandLine.ApiSocketPath, Faults.FromEnvironment());
    return vmm.Run();
}
catch (UsageException e)
{
    Console.Error.WriteLine(e.ExitCode == 2 ? $"error: {e.Message}\n\nUsage: cloud-hypervisor [OPTIONS]\n\nFor more information, try '--help'." : $"Error: {e.Message}");
    return e.ExitCode;
}
catch (SocketException e)
{
    Console.Error.WriteLine($"Error: Failed to bind the API socket: {e.Message}");
    return 1;
}
