<#
Helpers for the guest agent suites (tests/Pester/Guest): the image check and an agent-less copy
of the image. Everything else comes from ../TestHelpers.psm1.
#>
Set-StrictMode -Version 3.0

function Get-GuestTestImage {
    <#
    .SYNOPSIS
        The 'tiny' image the module resolves (MYHV_IMAGE_PATH first); throws unless it carries the guest agent.
    #>
    [CmdletBinding()]
    param()
    $folders = @(($env:MYHV_IMAGE_PATH -split ':') | Where-Object { $_ }) +
        @((Join-Path ([Environment]::GetFolderPath('UserProfile')) '.local/share/myhypervisor/images'))
    foreach ($root in $folders) {
        $manifest = Join-Path $root 'tiny/image.json'
        if (-not (Test-Path -LiteralPath $manifest)) { continue }
        $image = Get-Content -Raw -LiteralPath $manifest | ConvertFrom-Json
        if (-not ($image.PSObject.Properties.Name -contains 'GuestAgent' -and $image.GuestAgent)) {
            throw "The tiny image at $(Split-Path $manifest) has no guest agent (image.json GuestAgent): rebuild it with ./build.ps1 -Task Bootstrap"
        }
        return Split-Path $manifest
    }
    throw 'No tiny image found: run ./build.ps1 -Task Bootstrap'
}

function New-AgentlessImage {
    <#
    .SYNOPSIS
        Makes a copy of an image folder under -Parent whose image.json says it has no guest agent
        (kernel, initrd and disk hard-linked or copied: the same guest). Returns the new folder.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Image, [Parameter(Mandatory)] [string] $Parent)
    $target = Join-Path $Parent 'noagent'
    $null = New-Item -ItemType Directory -Path $target
    foreach ($file in 'vmlinuz', 'initrd.img', 'rootfs.ext4') {
        Copy-Item -LiteralPath (Join-Path $Image $file) -Destination (Join-Path $target $file)
    }
    $manifest = Get-Content -Raw -LiteralPath (Join-Path $Image 'image.json') | ConvertFrom-Json
    $manifest.Name = 'noagent'
    $manifest.GuestAgent = $false
    $manifest | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $target 'image.json')
    $target
}

Export-ModuleMember -Function Get-GuestTestImage, New-AgentlessImage
