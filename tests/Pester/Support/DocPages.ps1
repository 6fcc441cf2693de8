# Part of MyHvTestKit.psm1: for the help suites (Help.Tests.ps1, Examples.Tests.ps1).
# - Read-MyHvDocPage: an independent reader of docs/cmdlets/*.md (PlatyPS v1) built on Markdig
#   (the version Directory.Packages.props pins, from the NuGet cache), so the docs are checked
#   by something other than the converter that ships them.
# - Get-MyHvDocDrift: what a cmdlet page says that the cmdlet's real metadata (Get-Command,
#   the parameter attributes, the cmdlet class's defaults, [OutputType]) contradicts.
# - Get-MyHvDocExample: every ```powershell block of the docs, with the heading it sits under.


$script:MarkdigPipeline = $null
$script:CommonParameters = [System.Management.Automation.PSCmdlet]::CommonParameters

function Get-MyHvDocsFolder {
    [CmdletBinding()]
    [OutputType([string])]
    param()
    Join-Path (Get-MyHvRepoRoot) 'docs/cmdlets'
}

function Initialize-MyHvMarkdig {
    <#
    .SYNOPSIS
        Loads Markdig.dll (the version pinned in Directory.Packages.props) from the NuGet cache.
    .DESCRIPTION
        The build restores it for the HelpBuilder, so it is there after ./build.ps1 -Task Build.
    #>
    [CmdletBinding()]
    param()
    if ($script:MarkdigPipeline) { return }
    [xml] $props = Get-Content -Raw (Join-Path (Get-MyHvRepoRoot) 'Directory.Packages.props')
    $version = @($props.Project.ItemGroup.PackageVersion | Where-Object Include -EQ 'Markdig')[0].Version
    $root = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $candidates = @('net10.0', 'net8.0', 'netstandard2.1', 'netstandard2.0' | ForEach-Object { Join-Path $root "markdig/$version/lib/$_/Markdig.dll" })
    $dll = $candidates | Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    if (-not $dll) { throw "Markdig $version is not in the NuGet cache ($root); run: dotnet pwsh ./build.ps1 -Task Build" }
    $loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Markdig' }
    if (-not $loaded) { Add-Type -LiteralPath $dll }
    $builder = [Markdig.MarkdownPipelineBuilder]::new()
    $script:MarkdigPipeline = [Markdig.MarkdownExtensions]::UseYamlFrontMatter($builder).Build()
}

function Get-SourceText {
    # The markdown source of a block, as written.
    param([string] $Text, [Markdig.Syntax.Block] $Block)
    $Text.Substring($Block.Span.Start, $Block.Span.Length)
}

function ConvertFrom-MyHvYamlLine {
    # Flat "Key: value" lines (front matter, a parameter's yaml block) as an ordered dictionary.
    param([string] $Text)
    $values = [ordered]@{}
    foreach ($line in $Text -split '\r?\n') {
        if ($line.Trim() -in '', '---') { continue }
        $colon = $line.IndexOf(':')
        if ($colon -le 0) { $values["?$line"] = $null; continue }
        $values[$line.Substring(0, $colon).Trim()] = $line.Substring($colon + 1).Trim()
    }
    $values
}

function Read-MyHvDocPage {
    <#
    .SYNOPSIS
        Reads a PlatyPS v1 cmdlet page into: Name, FrontMatter, Sections, Synopsis, Syntax (Name,
        IsDefault, Text), Parameters (Name, Description, Metadata[] of yaml dictionaries),
        Examples (Title, Code), Outputs (type names).
    #>
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Path')] [string] $Path,
        [Parameter(Mandatory, ParameterSetName = 'Text')] [string] $Text
    )
    Initialize-MyHvMarkdig
    if ($PSCmdlet.ParameterSetName -eq 'Path') { $Text = Get-Content -Raw -LiteralPath $Path }
    $page = [pscustomobject]@{
        Name        = $null
        FrontMatter = [ordered]@{}
        Sections    = [System.Collections.Generic.List[string]]::new()
        Synopsis    = ''
        Syntax      = [System.Collections.Generic.List[object]]::new()
        Parameters  = [System.Collections.Generic.List[object]]::new()
        Examples    = [System.Collections.Generic.List[object]]::new()
        Outputs     = [System.Collections.Generic.List[string]]::new()
        Links       = [System.Collections.Generic.List[object]]::new()
    }
    $section = $null
    $item = $null
    foreach ($block in [Markdig.Markdown]::Parse($Text, $script:MarkdigPipeline)) {
        $source = Get-SourceText -Text $Text -Block $block
        if ($block -is [Markdig.Extensions.Yaml.YamlFrontMatterBlock]) {
            $page.FrontMatter = ConvertFrom-MyHvYamlLine -Text $block.Lines.ToString()
        }
        elseif ($block -is [Markdig.Syntax.HeadingBlock]) {
            $title = ($source -replace '^\s*#+\s*', '').Trim()
            switch ($block.Level) {
                1 { $page.Name = $title; $section = $null; $item = $null }
                2 { $section = $title.ToUpperInvariant(); $page.Sections.Add($section); $item = $null }
                3 {
                    $item = [pscustomobject]@{ Title = $title; Section = $section }
                    switch ($section) {
                        'SYNTAX' {
                            $item = [pscustomobject]@{ Name = ($title -replace '\(Default\)', '').Trim(); IsDefault = $title -match '\(Default\)'; Text = $null }
                            $page.Syntax.Add($item)
                        }
                        'PARAMETERS' {
                            if ($title -like '-*') {
                                $item = [pscustomobject]@{ Name = $title.Substring(1); Description = ''; Metadata = [System.Collections.Generic.List[object]]::new() }
                                $page.Parameters.Add($item)
                            }
                        }
                        'EXAMPLES' {
                            $item = [pscustomobject]@{ Title = $title; Code = $null }
                            $page.Examples.Add($item)
                        }
                        'OUTPUTS' { $page.Outputs.Add($title) }
                    }
                }
            }
        }
        elseif ($block -is [Markdig.Syntax.FencedCodeBlock]) {
            $info = "$($block.Info)".Trim().ToLowerInvariant()
            $content = $block.Lines.ToString().TrimEnd()
            if ($section -eq 'SYNTAX' -and $item -and $item.PSObject.Properties['IsDefault'] -and $null -eq $item.Text) { $item.Text = $content }
            elseif ($section -eq 'PARAMETERS' -and $info -eq 'yaml' -and $item -and $item.PSObject.Properties['Metadata']) {
                $item.Metadata.Add((ConvertFrom-MyHvYamlLine -Text $content))
            }
            elseif ($section -eq 'EXAMPLES' -and $info -eq 'powershell' -and $item -and $item.PSObject.Properties['Code'] -and $null -eq $item.Code) {
                $item.Code = $content
            }
        }
        elseif ($block -is [Markdig.Syntax.ParagraphBlock]) {
            $paragraph = ($source -replace '\s*\r?\n\s*', ' ').Trim()
            if ($section -eq 'SYNOPSIS') { $page.Synopsis = ($page.Synopsis + ' ' + $paragraph).Trim() }
            elseif ($section -eq 'PARAMETERS' -and $item -and $item.PSObject.Properties['Metadata'] -and $item.Metadata.Count -eq 0) {
                $item.Description = ($item.Description + ' ' + $paragraph).Trim()
            }
            elseif ($section -eq 'MYHYPERVISOR CMDLETS' -and $item) {
                $page.Links.Add([pscustomobject]@{ Heading = $item.Title; Synopsis = $paragraph })
            }
        }
    }
    $page
}

function Get-MyHvDocExample {
    <#
    .SYNOPSIS
        Every ```powershell block in the docs folder: File, Line, Title (the heading above it), Code.
    #>
    [CmdletBinding()]
    param([string] $Folder = (Get-MyHvDocsFolder))
    Initialize-MyHvMarkdig
    foreach ($file in Get-ChildItem -LiteralPath $Folder -Filter '*.md' | Sort-Object Name) {
        $text = Get-Content -Raw -LiteralPath $file.FullName
        $heading = $file.BaseName
        foreach ($block in [Markdig.Markdown]::Parse($text, $script:MarkdigPipeline)) {
            if ($block -is [Markdig.Syntax.HeadingBlock]) {
                $heading = ((Get-SourceText -Text $text -Block $block) -replace '^\s*#+\s*', '').Trim()
            }
            elseif ($block -is [Markdig.Syntax.FencedCodeBlock] -and "$($block.Info)".Trim() -eq 'powershell') {
                [pscustomobject]@{ File = $file.Name; Line = $block.Line + 1; Title = $heading; Code = $block.Lines.ToString().TrimEnd() }
            }
        }
    }
}

function Get-MyHvParameterFact {
    <#
    .SYNOPSIS
        What the cmdlet really declares for one parameter, in the docs' vocabulary.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.CmdletInfo] $Command,
        [Parameter(Mandatory)] [System.Management.Automation.ParameterMetadata] $Parameter
    )
    $type = $Parameter.ParameterType
    $accepted = @()
    $validateSet = $Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    if ($validateSet) { $accepted = @($validateSet.ValidValues) }
    elseif ($type.IsEnum) { $accepted = [Enum]::GetNames($type) }
    [pscustomobject]@{
        Name      = $Parameter.Name
        TypeNames = @($type.Name, $type.FullName)
        Aliases   = @($Parameter.Aliases | Sort-Object)
        Accepted  = @($accepted | Sort-Object)
        Wildcards = [bool]($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        Sets      = $Parameter.ParameterSets
        Default   = Get-MyHvParameterDefault -Command $Command -Name $Parameter.Name
    }
}

function Get-MyHvParameterDefault {
    <#
    .SYNOPSIS
        A parameter's default as the docs write it: the value a fresh instance of the cmdlet class
        holds ('None' for null or an empty array, arrays joined with ', ', switches 'False').
        WhatIf and Confirm live outside the class and default to False.
    #>
    param([System.Management.Automation.CmdletInfo] $Command, [string] $Name)
    $property = $Command.ImplementingType.GetProperty($Name)
    if (-not $property) { return 'False' }
    $value = $property.GetValue([Activator]::CreateInstance($Command.ImplementingType))
    if ($null -eq $value) { return 'None' }
    if ($value -is [System.Management.Automation.SwitchParameter]) { return [string] $value.IsPresent }
    if ($value -is [array]) { if ($value.Count -eq 0) { return 'None' } else { return ($value -join ', ') } }
    if ("$value" -eq '') { return 'None' }
    "$value"
}

function Split-MyHvDocList {
    param([AllowNull()] [string] $Value)
    if (-not $Value -or $Value -eq 'None') { return @() }
    @($Value -split ',' | ForEach-Object Trim | Where-Object { $_ } | Sort-Object)
}

function Test-MyHvSameList {
    param([object[]] $A, [object[]] $B)
    (@($A) -join '|').ToLowerInvariant() -eq (@($B) -join '|').ToLowerInvariant()
}

function Get-MyHvDocDrift {
    <#
    .SYNOPSIS
        Every disagreement between a cmdlet page and the cmdlet, one line each (empty: none).
    .DESCRIPTION
        Checks: parameter sets (SYNTAX headings, the default set), each set's syntax line against
        Get-Command's, every parameter documented and every documented parameter real, and per
        parameter Type, Parameter Sets, Aliases, Accepted values, Required, Position, Default value,
        Accept pipeline input and Accept wildcard characters; OUTPUTS against [OutputType].
        Common parameters are left out; WhatIf and Confirm are documented like any other.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.CmdletInfo] $Command,
        [Parameter(Mandatory)] [object] $Page
    )
    $name = $Command.Name
    if ($Page.Name -ne $name) { "the page's H1 is '$($Page.Name)', not '$name'" }

    # Parameter sets, and each set's syntax line.
    $realSets = @($Command.ParameterSets | ForEach-Object Name | Sort-Object)
    $docSets = @($Page.Syntax | ForEach-Object Name | Sort-Object)
    foreach ($set in $realSets | Where-Object { $_ -notin $docSets }) { "parameter set '$set' is not documented in SYNTAX" }
    foreach ($set in $docSets | Where-Object { $_ -notin $realSets }) { "SYNTAX documents a parameter set '$set' that $name does not have" }
    $docDefault = @($Page.Syntax | Where-Object IsDefault | ForEach-Object Name)
    $realDefault = @($Command.ParameterSets | Where-Object IsDefault | ForEach-Object Name)
    if ($realSets.Count -gt 1 -and -not (Test-MyHvSameList $docDefault $realDefault)) {
        "SYNTAX marks '$($docDefault -join ', ')' as (Default); the default set is '$($realDefault -join ', ')'"
    }
    foreach ($set in $Command.ParameterSets) {
        $doc = $Page.Syntax | Where-Object Name -EQ $set.Name | Select-Object -First 1
        if (-not $doc) { continue }
        $syntax = "$name $set"
        $normal = { param($s) ("$s" -replace '\s+', ' ').Trim().ToLowerInvariant() }
        if ((& $normal $doc.Text) -ne (& $normal $syntax)) { "the syntax of set '$($set.Name)' reads '$($doc.Text)'; the cmdlet's is '$syntax'" }
    }

    # Parameters: presence both ways, then the metadata of each.
    $real = @($Command.Parameters.Values | Where-Object { $_.Name -notin $script:CommonParameters })
    $documented = @($Page.Parameters | ForEach-Object Name)
    foreach ($p in $real | Where-Object { $_.Name -notin $documented }) { "-$($p.Name) is not documented" }
    foreach ($d in $Page.Parameters) {
        $p = $real | Where-Object Name -EQ $d.Name | Select-Object -First 1
        if (-not $p) { "-$($d.Name) is documented but $name has no such parameter"; continue }
        if ($d.Name -cne $p.Name) { "-$($d.Name) is spelled '$($p.Name)' by the cmdlet" }
        if (-not $d.Description) { "-$($d.Name) has no description" }
        if ($d.Metadata.Count -eq 0) { "-$($d.Name) has no yaml metadata block"; continue }
        Get-MyHvParameterDrift -Command $Command -Parameter $p -Doc $d
    }

    # OUTPUTS against [OutputType] (void is written 'None').
    $realOutputs = @($Command.OutputType | ForEach-Object { if ($_.Name -eq 'System.Void') { 'None' } else { $_.Name } } | Sort-Object -Unique)
    $docOutputs = @($Page.Outputs | Sort-Object -Unique)
    if ($realOutputs.Count -and -not (Test-MyHvSameList $docOutputs $realOutputs)) {
        "OUTPUTS lists '$($docOutputs -join ', ')'; [OutputType] says '$($realOutputs -join ', ')'"
    }
}

function Get-MyHvParameterDrift {
    # The metadata lines of one documented parameter that the real parameter contradicts.
    param($Command, $Parameter, $Doc)
    $fact = Get-MyHvParameterFact -Command $Command -Parameter $Parameter
    $n = "-$($Parameter.Name)"
    $realSetNames = @($fact.Sets.Keys)
    $allSets = @($Command.ParameterSets | ForEach-Object Name)
    $covered = [System.Collections.Generic.List[string]]::new()
    foreach ($yaml in $Doc.Metadata) {
        foreach ($key in @($yaml.Keys | Where-Object { $_.StartsWith('?') })) { "$n has a yaml line that is not 'Key: value': '$($key.Substring(1))'" }
        foreach ($key in 'Type', 'Parameter Sets', 'Aliases', 'Required', 'Position', 'Default value', 'Accept pipeline input', 'Accept wildcard characters') {
            if (-not $yaml.Contains($key)) { "$n lacks '$key' in its yaml block" }
        }
        if ($yaml.Contains('Type') -and $yaml['Type'] -notin $fact.TypeNames) { "$n has Type '$($yaml['Type'])'; the cmdlet's is '$($fact.TypeNames[0])'" }
        if ($yaml.Contains('Aliases') -and -not (Test-MyHvSameList (Split-MyHvDocList $yaml['Aliases']) $fact.Aliases)) {
            "$n has Aliases '$($yaml['Aliases'])'; the cmdlet's are '$(if ($fact.Aliases) { $fact.Aliases -join ', ' } else { 'None' })'"
        }
        $accepted = if ($yaml.Contains('Accepted values')) { Split-MyHvDocList $yaml['Accepted values'] } else { @() }
        if (-not (Test-MyHvSameList $accepted $fact.Accepted)) {
            "$n has Accepted values '$($accepted -join ', ')'; the cmdlet accepts '$($fact.Accepted -join ', ')'"
        }
        if ($yaml.Contains('Accept wildcard characters') -and $yaml['Accept wildcard characters'] -ne [string] $fact.Wildcards) {
            "$n has Accept wildcard characters '$($yaml['Accept wildcard characters'])'; the cmdlet's [SupportsWildcards] says $($fact.Wildcards)"
        }
        if ($yaml.Contains('Default value') -and $yaml['Default value'] -ne $fact.Default) {
            "$n has Default value '$($yaml['Default value'])'; a fresh $($Command.Name) holds '$($fact.Default)'"
        }

        # The sets this block speaks for, then the per-set attributes.
        $sets = if (-not $yaml.Contains('Parameter Sets')) { @() }
        elseif ($yaml['Parameter Sets'] -eq '(All)') {
            if ('__AllParameterSets' -notin $realSetNames -and @($allSets | Where-Object { $_ -notin $realSetNames }).Count) {
                "$n says Parameter Sets (All); it is only in '$($realSetNames -join ', ')'"
            }
            $realSetNames
        }
        else {
            $named = @(Split-MyHvDocList $yaml['Parameter Sets'])
            foreach ($s in $named | Where-Object { $_ -notin $realSetNames }) { "$n names the parameter set '$s'; it is in '$($realSetNames -join ', ')'" }
            @($named | Where-Object { $_ -in $realSetNames })
        }
        foreach ($set in $sets) {
            $covered.Add($set)
            $attr = $fact.Sets[$set]
            $position = if ($attr.Position -lt 0) { 'Named' } else { [string] $attr.Position }
            $kinds = @(if ($attr.ValueFromPipelineByPropertyName) { 'ByPropertyName' }; if ($attr.ValueFromPipeline) { 'ByValue' })
            $pipeline = if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
            if ($yaml.Contains('Required') -and $yaml['Required'] -ne [string] $attr.IsMandatory) {
                "$n has Required '$($yaml['Required'])'; in set '$set' Mandatory is $($attr.IsMandatory)"
            }
            if ($yaml.Contains('Position') -and $yaml['Position'] -ne $position) {
                "$n has Position '$($yaml['Position'])'; in set '$set' it is $position"
            }
            if ($yaml.Contains('Accept pipeline input')) {
                $docKinds = if ($yaml['Accept pipeline input'] -match '^True \((?<k>[^)]*)\)$') { @(Split-MyHvDocList $Matches.k) }
                elseif ($yaml['Accept pipeline input'] -eq 'False') { @() }
                else { @('?') }
                if (-not (Test-MyHvSameList $docKinds ($kinds | Sort-Object))) {
                    "$n has Accept pipeline input '$($yaml['Accept pipeline input'])'; in set '$set' it is $pipeline"
                }
            }
        }
    }
    foreach ($set in $realSetNames | Where-Object { $_ -notin $covered }) { "$n has no yaml block for parameter set '$set'" }
}

