# The plan, made before anything runs: which suites exist, how many tests each promises on every
# path, whether its discovery can end early, and whether it needs the host to itself.
# Dot-sourced by Invoke-TestRun.ps1. Not a suite: the file name must never end in .Tests.ps1.
#
# Like TAP's plan line: a suite that reports fewer tests than its plan has crashed, even when
# every test it did report passed (an `exit` between two Describe blocks silently drops the rest).

using namespace System.Management.Automation.Language

# Script blocks passed to these commands run during discovery (Describe/Context bodies) or once
# per data row (ForEach-Object; foreach statements likewise); their It calls count.
$script:PlanBlockCommands = @('Describe', 'Context')
$script:PlanLoopCommands = @('ForEach-Object', '%', 'foreach')
# The declaration a suite makes when it needs the host to itself (network namespaces, bridges,
# TAP devices, the KVM probe, timing): a whole-line comment, at column 1, anywhere in the file.
$script:ExclusiveMarkerPattern = '^#\s*Runner:\s*host-exclusive\s*$'

function Test-SuiteFileName {
    <# Pester's rule for a suite file, case-insensitively: the name ends in .Tests.ps1. #>
    param([Parameter(Mandatory)] [string] $Name)
    $Name.EndsWith('.Tests.ps1', [System.StringComparison]::OrdinalIgnoreCase) -and $Name.Length -gt '.Tests.ps1'.Length
}

function Get-RealPath {
    <# The path with every symlink resolved (the "real file" a path names), or $null if it dangles. #>
    param([Parameter(Mandatory)] [string] $Path)
    $item = [System.IO.FileInfo]::new($Path)
    $parent = [System.IO.Path]::GetDirectoryName($Path)
    $realParent = if ($parent -and $parent -ne '/') { Get-RealDirectory -Path $parent } else { $parent }
    if ($null -eq $realParent) { return $null }
    $candidate = [System.IO.Path]::Join($realParent, $item.Name)
    $target = [System.IO.File]::ResolveLinkTarget($candidate, $true)
    if ($target) { if (-not $target.Exists) { return $null }; return $target.FullName }
    $candidate
}

function Get-RealDirectory {
    param([Parameter(Mandatory)] [string] $Path)
    $parts = $Path.TrimEnd('/').Split('/', [System.StringSplitOptions]::RemoveEmptyEntries)
    $real = '/'
    foreach ($part in $parts) {
        $next = [System.IO.Path]::Join($real, $part)
        $target = [System.IO.Directory]::ResolveLinkTarget($next, $true)
        if ($target) { if (-not $target.Exists) { return $null }; $next = $target.FullName }
        $real = $next
    }
    $real
}

function Find-TestSuite {
    <#
    Every suite under $Path as Pester finds them: *.Tests.ps1 matched case-insensitively, hidden
    files and folders included, `.git` never entered, symlinked folders followed, and each real
    file once (the first path that reaches it, in ordinal order, names it). A symlink that leads
    back into a folder already on the walk is a loop: reported (.Notes), not followed.
    Returns .Files (full paths, ordinal order) and .Notes.
    #>
    param([Parameter(Mandatory)] [string] $Path)
    $files = [System.Collections.Generic.List[string]]::new()
    $notes = [System.Collections.Generic.List[string]]::new()
    $seenFiles = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::Ordinal)
    if ([System.IO.File]::Exists($Path)) {
        if (Test-SuiteFileName -Name ([System.IO.Path]::GetFileName($Path))) { $files.Add($Path) }
        return [pscustomobject]@{ Files = @($files); Notes = @($notes) }
    }
    if (-not [System.IO.Directory]::Exists($Path)) { return [pscustomobject]@{ Files = @(); Notes = @() } }
    $seenDirs = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::Ordinal)
    # Depth-first, entries in ordinal order, so the first path to a real file is deterministic.
    $stack = [System.Collections.Generic.Stack[object]]::new()
    $rootReal = Get-RealDirectory -Path $Path
    $stack.Push([pscustomobject]@{ Path = $Path.TrimEnd('/'); Real = $rootReal; Chain = @($rootReal) })
    $null = $seenDirs.Add($rootReal)
    while ($stack.Count) {
        $dir = $stack.Pop()
        $entries = try { @([System.IO.Directory]::GetFileSystemEntries($dir.Path)) } catch { $notes.Add("cannot read folder $($dir.Path): $($_.Exception.Message)"); @() }
        [string[]] $sorted = $entries
        [System.Array]::Sort($sorted, [System.StringComparer]::Ordinal)
        $subdirs = [System.Collections.Generic.List[object]]::new()
        foreach ($entry in $sorted) {
            $name = [System.IO.Path]::GetFileName($entry)
            if ([System.IO.Directory]::Exists($entry)) {   # follows symlinks
                if ($name -eq '.git') { continue }
                $info = [System.IO.DirectoryInfo]::new($entry)
                $real = if ($info.LinkTarget) { Get-RealDirectory -Path $entry } else { [System.IO.Path]::Join($dir.Real, $name) }
                if ($null -eq $real) { continue }
                if ($real -in $dir.Chain) { $notes.Add("symlink loop: $entry leads back to $real (not followed)"); continue }
                if (-not $seenDirs.Add($real)) { continue }   # reached already by another path: its files are listed once
                $subdirs.Add([pscustomobject]@{ Path = $entry; Real = $real; Chain = @($dir.Chain) + $real })
            } elseif ((Test-SuiteFileName -Name $name) -and [System.IO.File]::Exists($entry)) {
                $realFile = Get-RealPath -Path $entry
                if ($realFile -and $seenFiles.Add($realFile)) { $files.Add($entry) }
            }
        }
        for ($i = $subdirs.Count - 1; $i -ge 0; $i--) { $stack.Push($subdirs[$i]) }
    }
    [string[]] $all = $files
    [System.Array]::Sort($all, [System.StringComparer]::Ordinal)
    [pscustomobject]@{ Files = @($all); Notes = @($notes) }
}

# --- The lower bound: It calls that run on every path ------------------------------------------

function Get-ScriptBlockArgument {
    <# The script block literal a command is given (Describe 'x' { ... }, ForEach-Object { ... }), or $null. #>
    param([Parameter(Mandatory)] [CommandAst] $Command)
    foreach ($element in $Command.CommandElements) {
        if ($element -is [ScriptBlockExpressionAst]) { return $element.ScriptBlock }
    }
    $null
}

function Find-FlowStatement {
    <#
    exit/return/break/continue/throw statements inside $Ast that are not inside a nested script
    block or function (those return from themselves). break/continue inside a loop or switch
    belong to it.
    #>
    param([Parameter(Mandatory)] [Ast] $Ast)
    $Ast.FindAll({
            param($n)
            if (-not ($n -is [ExitStatementAst] -or $n -is [ReturnStatementAst] -or $n -is [BreakStatementAst] -or $n -is [ContinueStatementAst] -or $n -is [ThrowStatementAst])) { return $false }
            for ($p = $n.Parent; $null -ne $p -and $p -ne $Ast; $p = $p.Parent) {
                if ($p -is [ScriptBlockAst] -or $p -is [FunctionDefinitionAst]) { return $false }
                if (($n -is [BreakStatementAst] -or $n -is [ContinueStatementAst]) -and ($p -is [LoopStatementAst] -or $p -is [SwitchStatementAst])) { return $false }
            }
            $true
        }, $true)
}

function Measure-StatementList {
    <#
    Walks statements in order. Returns Tests (the It calls every path runs), Flow ('none',
    'returns' = this block ends here, 'exits' = the whole file ends here, each either 'always' or
    'maybe'), and Truncations (unconditional exit/return/break with statements after it).
    #>
    param([StatementAst[]] $Statements, [Parameter(Mandatory)] $Context)
    $tests = 0; $flow = 'none'; $certain = $false
    for ($i = 0; $i -lt $Statements.Count; $i++) {
        $r = Measure-Statement -Statement $Statements[$i] -Context $Context
        $tests += $r.Tests
        if ($r.Flow -ne 'none') {
            $flow = $r.Flow; $certain = $r.Always
            if ($r.Always -and $r.Flow -ne 'throws' -and $i -lt $Statements.Count - 1 -and $Context.BlockLevel) {
                $Context.Truncations.Add("line $($Statements[$i].Extent.StartLineNumber): an unconditional '$($Statements[$i].Extent.Text.Split("`n")[0].Trim())' ends discovery of its block before line $($Statements[$i + 1].Extent.StartLineNumber)")
            }
            break   # what follows may not run (a deliberate conditional return is fine: it just does not count)
        }
    }
    [pscustomobject]@{ Tests = $tests; Flow = $flow; Always = $certain }
}

function Measure-Statement {
    param([Parameter(Mandatory)] [StatementAst] $Statement, [Parameter(Mandatory)] $Context)
    $none = [pscustomobject]@{ Tests = 0; Flow = 'none'; Always = $false }
    switch ($Statement) {
        { $_ -is [ExitStatementAst] } { return [pscustomobject]@{ Tests = 0; Flow = 'exits'; Always = $true } }
        { $_ -is [ReturnStatementAst] } { return [pscustomobject]@{ Tests = 0; Flow = 'returns'; Always = $true } }
        { $_ -is [ThrowStatementAst] } { return [pscustomobject]@{ Tests = 0; Flow = 'throws'; Always = $true } }
        # break/continue outside a loop unwinds to the nearest enclosing loop of the CALLER: the file ends.
        { $_ -is [BreakStatementAst] -or $_ -is [ContinueStatementAst] } { return [pscustomobject]@{ Tests = 0; Flow = 'exits'; Always = $true } }
        { $_ -is [FunctionDefinitionAst] } { return $none }
        { $_ -is [PipelineAst] } {
            $sum = 0; $flow = 'none'
            foreach ($element in $_.PipelineElements) {
                if ($element -isnot [CommandAst]) { continue }
                $r = Measure-PlanCommand -Command $element -Context $Context
                $sum += $r.Tests
                if ($r.Flow -ne 'none') { $flow = $r.Flow }
            }
            return [pscustomobject]@{ Tests = $sum; Flow = $flow; Always = $false }
        }
        { $_ -is [ForEachStatementAst] -or $_ -is [DoWhileStatementAst] -or $_ -is [DoUntilStatementAst] } {
            # Counted as running once (its data is assumed non-empty, like It -ForEach); break inside is the loop's.
            $inner = Measure-StatementList -Statements $_.Body.Statements -Context (New-PlanContext -From $Context -BlockLevel $false)
            $flow = if ($inner.Flow -in 'exits', 'returns') { $inner.Flow } else { 'none' }
            return [pscustomobject]@{ Tests = $inner.Tests; Flow = $flow; Always = $false }
        }
        { $_ -is [TryStatementAst] } {
            $inner = Measure-StatementList -Statements $_.Body.Statements -Context (New-PlanContext -From $Context -BlockLevel $false)
            $tests = $inner.Tests
            if ($_.Finally) { $tests += (Measure-StatementList -Statements $_.Finally.Statements -Context (New-PlanContext -From $Context -BlockLevel $false)).Tests }
            if ($inner.Flow -ne 'none') { return [pscustomobject]@{ Tests = $tests; Flow = $inner.Flow; Always = $false } }
            $rest = @(Find-FlowStatement -Ast $_ | Where-Object { $_ -isnot [ThrowStatementAst] })
            return [pscustomobject]@{ Tests = $tests; Flow = (Get-MaybeFlow -Found $rest); Always = $false }
        }
    }
    # Anything else (if, switch, while, for, assignments...): no It in it counts, but a return or
    # exit it may take ends what follows.
    $found = @(Find-FlowStatement -Ast $Statement | Where-Object { $_ -isnot [ThrowStatementAst] })
    [pscustomobject]@{ Tests = 0; Flow = (Get-MaybeFlow -Found $found); Always = $false }
}

function Get-MaybeFlow {
    param([object[]] $Found)
    if (-not $Found) { return 'none' }
    if ($Found | Where-Object { $_ -isnot [ReturnStatementAst] }) { return 'exits' }
    'returns'
}

function Measure-PlanCommand {
    param([Parameter(Mandatory)] [CommandAst] $Command, [Parameter(Mandatory)] $Context)
    $name = $Command.GetCommandName()
    $none = [pscustomobject]@{ Tests = 0; Flow = 'none'; Always = $false }
    if (-not $name) { return $none }
    if ($name -eq 'It') { $Context.MustReachLines.Add($Command.Extent.StartLineNumber); return [pscustomobject]@{ Tests = 1; Flow = 'none'; Always = $false } }
    $body = Get-ScriptBlockArgument -Command $Command
    if ($name -in $script:PlanBlockCommands -and $body) {
        $Context.MustReachLines.Add($Command.Extent.StartLineNumber)
        $inner = Measure-ScriptBlock -ScriptBlock $body -Context (New-PlanContext -From $Context -BlockLevel $true)
        # A return ends only this block; an exit ends the file.
        return [pscustomobject]@{ Tests = $inner.Tests; Flow = $(if ($inner.Flow -eq 'exits') { 'exits' } else { 'none' }); Always = $inner.Always }
    }
    if (($name -in $script:PlanLoopCommands -or $name -eq 'InModuleScope') -and $body) {
        $inner = Measure-ScriptBlock -ScriptBlock $body -Context (New-PlanContext -From $Context -BlockLevel $false)
        return [pscustomobject]@{ Tests = $inner.Tests; Flow = $(if ($inner.Flow -eq 'exits') { 'exits' } else { 'none' }); Always = $false }
    }
    if ($Context.Functions.ContainsKey($name) -and -not $Context.Calling.Contains($name)) {
        # A function this file defines, called from a block: its It calls run too (recursion guarded).
        $null = $Context.Calling.Add($name)
        try {
            $inner = Measure-ScriptBlock -ScriptBlock $Context.Functions[$name].Body -Context (New-PlanContext -From $Context -BlockLevel $false)
        } finally { $null = $Context.Calling.Remove($name) }
        return [pscustomobject]@{ Tests = $inner.Tests; Flow = $(if ($inner.Flow -eq 'exits') { 'exits' } else { 'none' }); Always = $false }
    }
    $none
}

function Measure-ScriptBlock {
    param([Parameter(Mandatory)] [ScriptBlockAst] $ScriptBlock, [Parameter(Mandatory)] $Context)
    $tests = 0; $flow = 'none'; $always = $false
    foreach ($named in @($ScriptBlock.BeginBlock, $ScriptBlock.ProcessBlock, $ScriptBlock.EndBlock)) {
        if (-not $named) { continue }
        $r = Measure-StatementList -Statements $named.Statements -Context $Context
        $tests += $r.Tests
        if ($r.Flow -ne 'none') { $flow = $r.Flow; $always = $r.Always; break }
    }
    [pscustomobject]@{ Tests = $tests; Flow = $flow; Always = $always }
}

function New-PlanContext {
    param($From, [bool] $BlockLevel)
    [pscustomobject]@{
        Functions      = $From.Functions
        Calling        = $From.Calling
        Truncations    = $From.Truncations
        MustReachLines = $From.MustReachLines
        BlockLevel     = $BlockLevel
    }
}

function Get-SuitePlan {
    <#
    The plan for one suite:
      MinTests       the It calls that run on every path (see the runner's help for the rule)
      MustReachLines lines of Describe/Context/It calls discovery must reach (checked against
                     what Pester discovered: a line it never reached means discovery stopped early)
      Truncations    unconditional exit/return/break at file or block level with code after it
      ParseErrors    a file that does not parse can never pass
      Exclusive      the file declares `# Runner: host-exclusive`: it runs alone
    #>
    param([Parameter(Mandatory)] [string] $SuitePath)
    $tokens = $null; $errors = $null
    $ast = [Parser]::ParseFile($SuitePath, [ref] $tokens, [ref] $errors)
    $functions = @{}
    foreach ($f in $ast.FindAll({ param($n) $n -is [FunctionDefinitionAst] }, $true)) { $functions[$f.Name] = $f }
    $context = [pscustomobject]@{
        Functions      = $functions
        Calling        = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
        Truncations    = [System.Collections.Generic.List[string]]::new()
        MustReachLines = [System.Collections.Generic.List[int]]::new()
        BlockLevel     = $true
    }
    $min = 0
    if (-not $errors) { $min = (Measure-ScriptBlock -ScriptBlock $ast -Context $context).Tests }
    # An exit that discovery may run (anywhere but in the run-phase blocks): if the child then
    # sees $LASTEXITCODE change during discovery, discovery ended there.
    $runPhase = 'It', 'BeforeAll', 'AfterAll', 'BeforeEach', 'AfterEach'
    $discoveryExit = @($ast.FindAll({ param($n) $n -is [ExitStatementAst] }, $true) | Where-Object {
            $inRun = $false
            for ($p = $_.Parent; $p; $p = $p.Parent) {
                if ($p -is [ScriptBlockExpressionAst] -and $p.Parent -is [CommandAst] -and $p.Parent.GetCommandName() -in $runPhase) { $inRun = $true; break }
            }
            -not $inRun
        } | ForEach-Object { $_.Extent.StartLineNumber })
    $exclusive = [bool] @($tokens | Where-Object { $_.Kind -eq 'Comment' -and $_.Extent.StartColumnNumber -eq 1 -and $_.Text -match $script:ExclusiveMarkerPattern }).Count
    [pscustomobject]@{
        Path           = $SuitePath
        MinTests       = $min
        MustReachLines = @($context.MustReachLines | Sort-Object -Unique)
        Truncations    = @($context.Truncations)
        ParseErrors    = @($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" })
        Exclusive      = $exclusive
        DiscoveryExits = $discoveryExit
    }
}

function ConvertTo-VisibleText {
    <#
    Text made safe for one line of a terminal or a log: control characters (and Unicode line and
    paragraph separators) shown as escapes, `\n`, `\r`, `\t`, `\e`, `\xNN`, `\uNNNN`; a backslash
    stays as it is. No suite name or message can end or fake a runner line.
    #>
    param([AllowNull()] [AllowEmptyString()] [string] $Text)
    if ($null -eq $Text) { return '' }
    [regex]::Replace($Text, '[\x00-\x1F\x7F\u0080-\u009F\u2028\u2029]', {
            param($m)
            $c = [int][char] $m.Value
            switch ($c) { 10 { '\n' } 13 { '\r' } 9 { '\t' } 27 { '\e' } default { if ($c -lt 256) { '\x{0:X2}' -f $c } else { '\u{0:X4}' -f $c } } }
        })
}

function Get-SuiteDisplayName {
    <# The suite's name for prefixes: its path relative to the run's -Path, without .Tests.ps1, escaped. #>
    param([Parameter(Mandatory)] [string] $SuitePath, [Parameter(Mandatory)] [string] $BasePath)
    $base = if ([System.IO.File]::Exists($BasePath)) { [System.IO.Path]::GetDirectoryName($BasePath) } else { $BasePath }
    $relative = [System.IO.Path]::GetRelativePath($base, $SuitePath)
    ConvertTo-VisibleText -Text ($relative -replace '(?i)\.Tests\.ps1$', '')
}
