<#
Help quality and docs drift:
- Get-Help (from the shipped MAML) of every exported cmdlet has its own synopsis, a description,
  examples, a description and the real attributes of every parameter, inputs and outputs.
- docs/cmdlets/*.md agree with the cmdlets: every cmdlet has a page, every parameter and
  parameter set is documented, nothing documented is missing from the cmdlet, and each
  parameter's metadata (type, sets, aliases, accepted values, required, position, default,
  pipeline input, wildcards), each syntax line and OUTPUTS match what the cmdlet declares.
- The drift detector and the HelpBuilder fail on doctored pages (so neither passes vacuously).
#>

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $cmdlets = @(Get-Command -Module MyHypervisor -CommandType Cmdlet | Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })

    # Doctored copies of Start-MyVm.md, each of which the drift check must reject.
    $driftCases = @(
        @{ Case = 'a parameter is missing'; Pattern = '(?ms)^### -Wait\r?\n.*?(?=^### -TimeoutSeconds)'; Replacement = ''; Expect = '-Wait is not documented' }
        @{ Case = 'a parameter does not exist'; Pattern = '(?m)^### CommonParameters'; Expect = '-Bogus is documented but Start-MyVm has no such parameter'
            Replacement = "### -Bogus`nNot a parameter.`n`n``````yaml`nType: String`nParameter Sets: (All)`nAliases: None`n`nRequired: False`nPosition: Named`nDefault value: None`nAccept pipeline input: False`nAccept wildcard characters: False`n```````n`n### CommonParameters" }
        @{ Case = 'Required is wrong'; Pattern = '(?ms)(^### -Name\r?\n.*?)Required: True'; Replacement = '${1}Required: False'; Expect = "-Name has Required 'False'" }
        @{ Case = 'Position is wrong'; Pattern = '(?ms)(^### -Name\r?\n.*?)Position: 0'; Replacement = '${1}Position: 1'; Expect = "-Name has Position '1'" }
        @{ Case = 'pipeline input is wrong'; Pattern = '(?ms)(^### -Name\r?\n.*?)Accept pipeline input: [^\r\n]*'; Replacement = '${1}Accept pipeline input: True (ByPropertyName)'; Expect = '-Name has Accept pipeline input' }
        @{ Case = 'wildcards are wrong'; Pattern = '(?ms)(^### -Name\r?\n.*?)Accept wildcard characters: True'; Replacement = '${1}Accept wildcard characters: False'; Expect = "-Name has Accept wildcard characters 'False'" }
        @{ Case = 'the type is wrong'; Pattern = '(?ms)(^### -TimeoutSeconds\r?\n.*?)Type: Int32'; Replacement = '${1}Type: String'; Expect = "-TimeoutSeconds has Type 'String'" }
        @{ Case = 'the default is wrong'; Pattern = 'Default value: 60'; Replacement = 'Default value: 30'; Expect = "-TimeoutSeconds has Default value '30'" }
        @{ Case = 'an alias is wrong'; Pattern = 'Aliases: wi'; Replacement = 'Aliases: None'; Expect = "-WhatIf has Aliases 'None'" }
        @{ Case = 'a parameter set is missing'; Pattern = '### __AllParameterSets'; Replacement = '### ByName'; Expect = "parameter set '__AllParameterSets' is not documented" }
        @{ Case = 'the syntax line is wrong'; Pattern = '\[-AsJob\] '; Replacement = ''; Expect = "the syntax of set '__AllParameterSets' reads" }
        @{ Case = 'OUTPUTS misses a type'; Pattern = '(?ms)^### System\.Management\.Automation\.Job\r?\n.*?(?=^## NOTES)'; Replacement = ''; Expect = 'OUTPUTS lists' }
    )

    # Malformed copies of Start-MyVm.md, each of which the HelpBuilder must refuse.
    $malformedCases = @(
        @{ Case = 'no front matter'; Pattern = '(?s)^---.*?---\r?\n'; Replacement = ''; Expect = 'no front matter' }
        @{ Case = 'no SYNOPSIS'; Pattern = '(?ms)^## SYNOPSIS\r?\n.*?(?=^## SYNTAX)'; Replacement = ''; Expect = 'SYNOPSIS is missing' }
        @{ Case = 'no DESCRIPTION'; Pattern = '(?ms)^## DESCRIPTION\r?\n.*?(?=^## EXAMPLES)'; Replacement = ''; Expect = 'DESCRIPTION is missing' }
        @{ Case = 'a parameter without its yaml block'; Pattern = '(?ms)(^### -Wait\r?\n.*?)```yaml.*?```'; Replacement = '$1'; Expect = '-Wait has no ```yaml metadata block' }
        @{ Case = 'a parameter without a description'; Pattern = '(?ms)(^### -Wait\r?\n).*?(?=```yaml)'; Replacement = '$1'; Expect = '-Wait has no description' }
        @{ Case = 'a yaml block without a key'; Pattern = '(?ms)(^### -Wait\r?\n.*?)Position: Named\r?\n'; Replacement = '$1'; Expect = "-Wait: the yaml block lacks 'Position:'" }
        @{ Case = 'a yaml value that is not one'; Pattern = '(?ms)(^### -Wait\r?\n.*?)Required: False'; Replacement = '${1}Required: maybe'; Expect = "-Wait: Required is 'maybe'" }
        @{ Case = 'an example without code'; Pattern = '(?ms)(^### Example 1:[^\r\n]*\r?\n)```powershell.*?```'; Replacement = '$1'; Expect = '''Example 1: Start a VM and wait until the guest is ready'' has no ```powershell code block' }
        @{ Case = 'a syntax line without a parameter'; Pattern = '\[-AsJob\] '; Replacement = ''; Expect = "lacks -AsJob" }
        @{ Case = 'an unknown section'; Pattern = '## NOTES'; Replacement = '## REMARKS'; Expect = "unknown section '## REMARKS'" }
        @{ Case = 'sections out of order'; Pattern = '(?ms)(^## SYNOPSIS\r?\n.*?)(^## SYNTAX\r?\n.*?)(?=^## DESCRIPTION)'; Replacement = '$2$1'; Expect = "section '## SYNOPSIS' is out of order" }
        @{ Case = 'an H1 that is not the cmdlet'; Pattern = '(?m)^# Start-MyVm'; Replacement = '# Start-MyVms'; Expect = "the H1 is 'Start-MyVms'" }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    $null = Import-MyHvTestModule
    $script:docs = Get-MyHvDocsFolder
    $script:repo = Get-MyHvRepoRoot
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $script:helpBuilder = Join-Path $script:repo 'out/obj/HelpBuilder/HelpBuilder.dll'
    $script:startPage = Get-Content -Raw -LiteralPath (Join-Path $script:docs 'Start-MyVm.md')

    function Invoke-HelpBuilder {
        # Runs the built converter; returns its exit code and everything it printed.
        param([string] $DocsDir, [string] $Output)
        if (-not (Test-Path -LiteralPath $script:helpBuilder)) { throw "No HelpBuilder at $script:helpBuilder; run: dotnet pwsh ./build.ps1 -Task Build" }
        $printed = & dotnet $script:helpBuilder $DocsDir $Output 2>&1 | ForEach-Object { "$_" }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($printed -join "`n") }
    }
}

Describe 'Get-Help of <Name>' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command -Name $Name -Module MyHypervisor
        $help = Get-Help -Name $Name -Full
        $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $script:common })
    }

    It 'has a synopsis of its own, not the generated syntax' {
        $synopsis = "$($help.Synopsis)".Trim()
        $synopsis | Should -Not -BeNullOrEmpty
        $synopsis | Should -Not -Match "^$([regex]::Escape($Name))(\s|$)" -Because 'Get-Help makes up a synopsis from the syntax when there is no help'
        $synopsis.Length | Should -BeGreaterThan 20
    }

    It 'has a description' {
        $text = @($help.description | ForEach-Object Text) -join ' '
        $text.Trim().Length | Should -BeGreaterThan 50
    }

    It 'has at least one example with code and remarks' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 1
        foreach ($example in $examples) {
            "$($example.code)".Trim() | Should -Not -BeNullOrEmpty -Because "example '$($example.title)' needs code"
            (@($example.remarks | ForEach-Object Text) -join '').Trim() | Should -Not -BeNullOrEmpty -Because "example '$($example.title)' needs remarks"
        }
    }

    It 'describes every parameter' {
        $undescribed = foreach ($p in $parameters) {
            $text = @((Get-Help -Name $Name -Parameter $p.Name).description | ForEach-Object Text) -join ' '
            if (-not $text.Trim()) { $p.Name }
        }
        $undescribed | Should -BeNullOrEmpty
    }

    It 'shows each parameter as the cmdlet declares it (required, position, pipeline input, wildcards, type)' {
        $wrong = foreach ($p in $parameters) {
            $shown = Get-Help -Name $Name -Parameter $p.Name
            $attr = @($p.ParameterSets.Values)[0]
            $position = if ($attr.Position -lt 0) { 'named' } else { [string] $attr.Position }
            $wildcards = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
            if ("$($shown.required)" -ne "$($attr.IsMandatory)".ToLowerInvariant()) { "$($p.Name): required $($shown.required)" }
            if ("$($shown.position)" -ne $position) { "$($p.Name): position $($shown.position), not $position" }
            if ("$($shown.globbing)" -ne "$wildcards".ToLowerInvariant()) { "$($p.Name): globbing $($shown.globbing)" }
            if (($shown.pipelineInput -match 'ByValue') -ne $attr.ValueFromPipeline) { "$($p.Name): pipelineInput $($shown.pipelineInput) (ByValue)" }
            if (($shown.pipelineInput -match 'ByPropertyName') -ne $attr.ValueFromPipelineByPropertyName) { "$($p.Name): pipelineInput $($shown.pipelineInput) (ByPropertyName)" }
            if ("$($shown.type.name)" -notin $p.ParameterType.Name, $p.ParameterType.FullName) { "$($p.Name): type $($shown.type.name)" }
        }
        $wrong | Should -BeNullOrEmpty
    }

    It 'names its inputs and outputs' {
        @($help.inputTypes.inputType).Count | Should -BeGreaterOrEqual 1
        $outputs = @($help.returnValues.returnValue | ForEach-Object { "$($_.type.name)" })
        $outputs.Count | Should -BeGreaterOrEqual 1
        foreach ($type in $command.OutputType | Where-Object Name -NE 'System.Void') { $outputs | Should -Contain $type.Name }
    }
}

Describe 'Get-Help -Examples' {
    It 'shows the examples of Start-MyVm' {
        $text = Get-Help -Name Start-MyVm -Examples | Out-String -Width 200
        $text | Should -Match 'Example 1:'
        $text | Should -Match ([regex]::Escape("Start-MyVm -Name 'web' -Wait"))
    }
}

Describe 'docs/cmdlets drift' {
    It 'has a page for every exported cmdlet, and no page for a cmdlet that does not exist' {
        $exported = @(Get-Command -Module MyHypervisor -CommandType Cmdlet | ForEach-Object Name | Sort-Object)
        $pages = @(Get-ChildItem -LiteralPath $script:docs -Filter '*.md' | Where-Object BaseName -NE 'MyHypervisor' | ForEach-Object BaseName | Sort-Object)
        @($exported | Where-Object { $_ -notin $pages }) | Should -BeNullOrEmpty -Because 'every cmdlet needs docs/cmdlets/<Name>.md'
        @($pages | Where-Object { $_ -notin $exported }) | Should -BeNullOrEmpty -Because 'a page must document an exported cmdlet'
    }

    It '<Name>.md documents exactly the cmdlet''s parameters, sets and metadata' -ForEach $cmdlets {
        $path = Join-Path $script:docs "$Name.md"
        $path | Should -Exist
        $page = Read-MyHvDocPage -Path $path
        $page.FrontMatter['external help file'] | Should -Be 'MyHypervisor.PowerShell.dll-Help.xml'
        $page.FrontMatter['Module Name'] | Should -Be 'MyHypervisor'
        $page.FrontMatter['schema'] | Should -Be '2.0.0'
        Get-MyHvDocDrift -Command (Get-Command -Name $Name -Module MyHypervisor) -Page $page | Should -BeNullOrEmpty
    }

    It 'the module page lists every cmdlet with the synopsis of its page' {
        $module = Read-MyHvDocPage -Path (Join-Path $script:docs 'MyHypervisor.md')
        $module.FrontMatter['Module Guid'] | Should -Be (Get-Module MyHypervisor).Guid.ToString()
        $listed = @($module.Links | ForEach-Object { if ($_.Heading -match '^\[(?<n>[^\]]+)\]') { $Matches.n } } | Sort-Object)
        $listed | Should -Be @(Get-Command -Module MyHypervisor -CommandType Cmdlet | ForEach-Object Name | Sort-Object)
        foreach ($link in $module.Links) {
            $name = ($link.Heading -replace '^\[([^\]]+)\].*$', '$1')
            $link.Synopsis | Should -Be (Read-MyHvDocPage -Path (Join-Path $script:docs "$name.md")).Synopsis -Because "the module page's line for $name repeats its synopsis"
        }
    }
}

Describe 'The drift check catches a page where <Case>' -ForEach $driftCases {
    It 'reports it' {
        $doctored = [regex]::new($Pattern).Replace($script:startPage, $Replacement, 1)
        $doctored | Should -Not -Be $script:startPage -Because 'the case must change the page'
        $drift = @(Get-MyHvDocDrift -Command (Get-Command Start-MyVm) -Page (Read-MyHvDocPage -Text $doctored))
        ($drift -join "`n") | Should -Match ([regex]::Escape($Expect))
    }
}

Describe 'HelpBuilder' {
    It 'turns the docs into MAML with one command per cmdlet, its elements in the order Get-Help reads' {
        $out = Join-Path $TestDrive 'ok/MyHypervisor.PowerShell.dll-Help.xml'
        $run = Invoke-HelpBuilder -DocsDir $script:docs -Output $out
        $run.ExitCode | Should -Be 0 -Because $run.Output
        [xml] $xml = Get-Content -Raw -LiteralPath $out
        $ns = @{ command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; maml = 'http://schemas.microsoft.com/maml/2004/10' }
        $xml.DocumentElement.LocalName | Should -Be 'helpItems'
        $xml.DocumentElement.NamespaceURI | Should -Be 'http://msh'
        $names = @(Select-Xml -Xml $xml -XPath '//command:command/command:details/command:name' -Namespace $ns | ForEach-Object { $_.Node.InnerText } | Sort-Object)
        $names | Should -Be @(Get-Command -Module MyHypervisor -CommandType Cmdlet | ForEach-Object Name | Sort-Object)
        foreach ($command in Select-Xml -Xml $xml -XPath '//command:command' -Namespace $ns) {
            @($command.Node.ChildNodes | ForEach-Object { $_.LocalName }) |
                Should -Be @('details', 'description', 'syntax', 'parameters', 'inputTypes', 'returnValues', 'alertSet', 'examples', 'relatedLinks')
        }
    }

    It 'accepts the same page undoctored (the control for the cases below)' {
        $dir = Join-Path $TestDrive 'control'
        $null = New-Item -ItemType Directory -Path $dir
        Set-Content -LiteralPath (Join-Path $dir 'Start-MyVm.md') -Value $script:startPage -NoNewline
        $run = Invoke-HelpBuilder -DocsDir $dir -Output (Join-Path $dir 'MyHypervisor.PowerShell.dll-Help.xml')
        $run.ExitCode | Should -Be 0 -Because $run.Output
    }

    It 'refuses a page with <Case>, names the problem, and writes nothing' -ForEach $malformedCases {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $dir
        $doctored = [regex]::new($Pattern).Replace($script:startPage, $Replacement, 1)
        $doctored | Should -Not -Be $script:startPage -Because 'the case must change the page'
        Set-Content -LiteralPath (Join-Path $dir 'Start-MyVm.md') -Value $doctored -NoNewline
        $out = Join-Path $dir 'MyHypervisor.PowerShell.dll-Help.xml'
        $run = Invoke-HelpBuilder -DocsDir $dir -Output $out
        $run.ExitCode | Should -Be 1 -Because $run.Output
        $run.Output | Should -Match ([regex]::Escape($Expect))
        $run.Output | Should -Not -Match 'but this build writes' -Because 'only the doctored part may be wrong'
        $out | Should -Not -Exist
    }
}
