# Part of MyHvTestKit.psm1: network namespaces with a bridge, so bridged VMs run without touching
# the host's own interfaces. A suite that uses them marks itself '# Runner: host-exclusive'.

function New-MyHvTestNamespace {
    <#
    .SYNOPSIS
        Creates a network namespace with lo up and a bridge up (with -Address on it when given); returns its name.
    .DESCRIPTION
        Only the namespace is touched, never the host's own interfaces. A half-made namespace is
        deleted before the error is thrown. Delete it with Remove-MyHvTestNamespace.
    .PARAMETER Name
        The namespace's name; mhtest-<random> unless given.
    .PARAMETER Address
        An address for the bridge (e.g. '10.77.0.1/24', the default); '' for none.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Name = ('mhtest-' + [guid]::NewGuid().ToString('N').Substring(0, 8)), [string] $Bridge = 'br0', [string] $Address = '10.77.0.1/24')
    & ip netns add $Name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $Name failed (root and iproute2 are needed for the bridged tests)" }
    $null = $script:Namespaces.Add($Name)
    try {
        $steps = @(@('link', 'set', 'lo', 'up'), @('link', 'add', $Bridge, 'type', 'bridge'))
        if ($Address) { $steps += , @('addr', 'add', $Address, 'dev', $Bridge) }
        $steps += , @('link', 'set', $Bridge, 'up')
        foreach ($cmd in $steps) {
            & ip -n $Name @cmd
            if ($LASTEXITCODE -ne 0) { throw "ip -n $Name $($cmd -join ' ') failed" }
        }
    }
    catch {
        Remove-MyHvTestNamespace -Name $Name
        throw
    }
    $Name
}

function Test-MyHvNamespace {
    <# True when a network namespace of that name exists. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    [bool] (@(& ip netns list 2>$null) | Where-Object { ($_ -split '\s+')[0] -eq $Name })
}

function Remove-MyHvTestNamespace {
    <#
    .SYNOPSIS
        Deletes a namespace that New-MyHvTestNamespace made in this process (never another); throws if it stays.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    if (-not $script:Namespaces.Contains($Name)) { throw "refusing to delete namespace '$Name': this test kit did not make it" }
    if (Test-MyHvNamespace -Name $Name) { & ip netns delete $Name }
    if (Test-MyHvNamespace -Name $Name) { throw "network namespace $Name is still there" }
    $null = $script:Namespaces.Remove($Name)
}

function Get-MyHvNamespaceDevice {
    <#
    .SYNOPSIS
        Names of the network devices in a network namespace whose name starts with -Prefix (default 'mh'; '' for all).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [Alias('Netns')] [string] $Namespace, [AllowEmptyString()] [string] $Prefix = 'mh')
    $lines = @(& ip -n $Namespace -o link show 2>$null)
    if ($LASTEXITCODE -ne 0) { throw "ip -n $Namespace link show failed (exit $LASTEXITCODE)" }
    @($lines | ForEach-Object { ($_ -split ':\s+', 3)[1] -replace '@.*$', '' } | Where-Object { $_.StartsWith($Prefix) })
}

function Get-MyHvPingCommand {
    <#
    .SYNOPSIS
        The argument list of a ping: 'ping' when installed, else busybox's (installed by Bootstrap); $null if neither.
    #>
    [CmdletBinding()]
    param()
    $ping = Get-Command -Name ping -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($ping) { return , @($ping.Source) }
    $busybox = Get-Command -Name busybox -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($busybox) { return , @($busybox.Source, 'ping') }
    $null
}
