namespace MyHypervisor.Core.Errors;

/// <summary>
/// A VM whose record cannot be trusted: unreadable JSON, a null or missing field, a wrong type,
/// a definition that does not match its folder, a copied folder, a removal that did not finish.
/// An InvalidVmSpec for that VM only: Get-MyVm lists it as Failed with this message, the other
/// VMs are unaffected, and Remove-MyVm -Force removes it.
/// </summary>
public sealed class VmRecordException : MyHvException
{
    public VmRecordException(string vmName, string file, string problem, Exception? inner = null)
        : base(MyHvErrorKind.InvalidVmSpec, $"VM '{vmName}': '{file}' cannot be used: {problem}", vmName, inner)
    {
        File = file;
        Problem = problem;
    }

    public string File { get; }
    public string Problem { get; }
}
