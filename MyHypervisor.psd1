@{
    RootModule           = 'MyHypervisor.PowerShell.dll'
    ModuleVersion        = '{{ModuleVersion}}'
    GUID                 = '6f0d8f3e-6c1b-4d55-9a59-2a8f4f5e7c11'
    Author               = 'MyHypervisor contributors'
    CompanyName          = 'MyHypervisor'
    Copyright            = '(c) MyHypervisor contributors. MIT License.'
    Description          = 'Run Linux microVMs from PowerShell: QEMU over QMP, with transactional starts, crash recovery and liveness-checked inspection.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('MyHypervisor.Format.ps1xml')
    CmdletsToExport      = @(
        'New-MyVm'
        'Get-MyVm'
        'Start-MyVm'
        'Stop-MyVm'
        'Remove-MyVm'
        'Get-MyVmStats'
        'Get-MyVmConsole'
        'Repair-MyVm'
        'Test-MyVmHost'
        'Invoke-MyVmCommand'
        'Copy-MyVmFile'
        'Get-MyVmGuest'
        'Set-MyVm'
        'Restart-MyVm'
        'Suspend-MyVm'
        'Resume-MyVm'
        'Copy-MyVm'
        'New-MyVmImage'
        'Get-MyVmImage'
        'Remove-MyVmImage'
        'Get-MyVmOrphan'
        'Connect-MyVmConsole'
        'Connect-MyVmHost'
        'Get-MyVmHost'
        'Disconnect-MyVmHost'
        'Checkpoint-MyVm'
        'Get-MyVmCheckpoint'
        'Restore-MyVmCheckpoint'
        'Remove-MyVmCheckpoint'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('microVM', 'QEMU', 'KVM', 'virtualization', 'Linux')
            ProjectUri = 'https://example.invalid/myhypervisor'
        }
    }
}
