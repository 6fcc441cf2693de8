# The plan, made before anything runs: which suites exist and how many tests each promises.
# Dot-sourced by Invoke-TestRun.ps1. Not a suite: the file name must never end in .Tests.ps1.
#
# Like TAP's plan line: a suite that reports fewer tests than its plan has crashed, even when
# every test it did report passed (an `exit` between two Describe blocks silently drops the rest).

using namespace System.Management.Automation.Language

# Script blocks passed to these commands run (at least once when their data is not empty);
# an It inside any other script block (a function, a variable, an If branch) may never run.
$script:PlanRunningBlockCommands = @('Describe', 'Context', 'InModuleScope', 'ForEach-Object', 'foreach', '%')

function Find-TestSuite {
    <# All *.Tests.ps1 files under $Path (recursively), sorted by full path (ordinal). #>
    param([Parameter(Mandatory)] [string] $Path)
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        $item = Get-Item -LiteralPath $Path
        if ($item.Name -like '*.Tests.ps1') { return $item.FullName }
        return
    }
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return }
    [string[]] $files = @(Get-ChildItem -LiteralPath $Path -Recurse -File -Filter '*.Tests.ps1' |
            ForEach-Object FullName)
    [System.Array]::Sort($files, [System.StringComparer]::Ordinal)
    $files
}

function Test-ItCallAlwaysRuns {
    <#
    True when an It call sits only inside Describe/Context/loops, so it yields at least one test.
    An It under an If/Switch/Catch/Trap, in a function or in a free script block may not run,
    so it does not count towards the lower bound.
    #>
    param([Parameter(Mandatory)] [CommandAst] $ItCall)
    for ($node = $ItCall.Parent; $null -ne $node; $node = $node.Parent) {
        if ($node -is [IfStatementAst] -or $node -is [SwitchStatementAst] -or $node -is [CatchClauseAst] -or
            $node -is [TrapStatementAst] -or $node -is [FunctionDefinitionAst]) { return $false }
        if ($node -is [ScriptBlockExpressionAst]) {
            $owner = $node.Parent
            if ($owner -isnot [CommandAst]) { return $false }
            if ($owner.GetCommandName() -notin $script:PlanRunningBlockCommands) { return $false }
        }
    }
    return $true
}

function Get-SuitePlan {
    <#
    The plan for one suite: MinTests = lower bound of tests from the syntax tree (each It call
    counts 1, even one inside a loop or with -ForEach, whose data may be a single row), and the
    parse errors (a file that does not parse can never pass).
    #>
    param([Parameter(Mandatory)] [string] $SuitePath)
    $tokens = $null; $errors = $null
    $ast = [Parser]::ParseFile($SuitePath, [ref] $tokens, [ref] $errors)
    $itCalls = $ast.FindAll({
            param($n) $n -is [CommandAst] -and $n.GetCommandName() -eq 'It'
        }, $true)
    $min = @($itCalls | Where-Object { Test-ItCallAlwaysRuns -ItCall $_ }).Count
    [pscustomobject]@{
        Path        = $SuitePath
        MinTests    = $min
        ParseErrors = @($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" })
    }
}

function Get-SuiteDisplayName {
    <# The suite's name for prefixes: its path relative to the run's -Path, without .Tests.ps1. #>
    param([Parameter(Mandatory)] [string] $SuitePath, [Parameter(Mandatory)] [string] $BasePath)
    $base = if (Test-Path -LiteralPath $BasePath -PathType Leaf) { Split-Path -Parent $BasePath } else { $BasePath }
    $relative = [System.IO.Path]::GetRelativePath($base, $SuitePath).Replace('\', '/')
    $relative -replace '\.Tests\.ps1$', ''
}
