<#
Helpers for the checkpoint suites: what a VM's disk holds (its snapshot table, read with
qemu-img behind the module's back) and a picture of a VM that a rolled-back checkpoint or restore
must leave unchanged.
#>

Set-StrictMode -Version 3.0

function Get-CpSnapshotName {
    <# Every internal snapshot of a VM's disk, the module's own undo points included (qemu-img info -U, sorted). #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $disk = Join-Path $HomePath "vms/$Name/disk.qcow2"
    $json = & qemu-img info -U --output=json -- $disk
    if ($LASTEXITCODE -ne 0) { throw "qemu-img info $disk failed" }
    $info = $json | ConvertFrom-Json
    if (-not $info.PSObject.Properties['snapshots']) { return @() }
    @($info.snapshots | ForEach-Object name | Sort-Object)
}

function Get-CpPicture {
    <#
    .SYNOPSIS
        A VM as a rollback must leave it: its status and hypervisor pid (Get-MyVm), its disk's
        snapshots, the files in its folder (journals included) and in its runtime folder.
    #>
    param([Parameter(Mandatory)] [string] $HomePath, [Parameter(Mandatory)] [string] $Name)
    $vm = Get-MyVm -Name $Name -ErrorAction Stop
    $run = Join-Path $HomePath "run/$Name"
    [ordered]@{
        Status    = "$($vm.Status)"
        Pid       = "$($vm.Pid)"
        Snapshots = (Get-CpSnapshotName -HomePath $HomePath -Name $Name) -join ','
        VmFiles   = (@(Get-ChildItem -LiteralPath (Join-Path $HomePath "vms/$Name") -Force -Name | Sort-Object) -join ',')
        RunFiles  = if (Test-Path -LiteralPath $run) { (@(Get-ChildItem -LiteralPath $run -Force -Name | Sort-Object) -join ',') } else { '<none>' }
    } | ConvertTo-Json -Compress
}

function Test-CpSameDiskContent {
    <# True when two qcow2 disks show the guest the same bytes (qemu-img compare, backing files included). #>
    param([Parameter(Mandatory)] [string] $Left, [Parameter(Mandatory)] [string] $Right)
    $null = & qemu-img compare -U -q -- $Left $Right 2>&1
    $LASTEXITCODE -eq 0
}

Export-ModuleMember -Function Get-CpSnapshotName, Get-CpPicture, Test-CpSameDiskContent
