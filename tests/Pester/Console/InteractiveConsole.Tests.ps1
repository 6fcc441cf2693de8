# Connect-MyVmConsole in a real terminal: a pwsh in a tmux pane attaches to a running tiny VM's
# serial line, keys typed there reach the guest's shell and its answer appears on the screen (and
# in console.log, which keeps everything while attached); a second session is refused (VmBusy);
# Ctrl+] detaches, a stop (SIGINT to the pane's pwsh) ends the session, and the VM powering off
# ends it too: after each, the pane's terminal settings are exactly those from before the session
# (read from outside the pane with stty -F, so .NET cannot mask them) and the pwsh prompt answers.
# A VM that is not running gives VmNotRunning.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../Support/MyHvTestKit.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'ConsoleSupport.psm1') -Force
    $script:vmHome = Initialize-MyHvTestSuite
    $script:vm = 'con1'
    $script:terminal = $null
    $script:ready = (Get-Command qemu-system-x86_64, tmux, stty -ErrorAction Ignore).Count -eq 3
    if (-not $script:ready) { return }

    $null = New-MyVm -Name $script:vm -Image tiny
    Start-MyVm -Name $script:vm -Wait -TimeoutSeconds 180 -ErrorAction Stop
    $script:work = New-MyHvTestDir -Prefix 'mhCon'
    $script:terminal = New-ConTerminal -WorkDir $script:work -HomePath $script:vmHome
    $module = Join-Path (Get-MyHvRepoRoot) 'out/MyHypervisor/MyHypervisor.psd1'
    Send-ConKeys $script:terminal -Text "Import-Module '$module'; 'imp' + 'orted'" -Key Enter
    $null = Wait-ConScreen $script:terminal -Pattern '(?m)^imported$'
    # The settings pwsh keeps while it waits at its prompt: every session must end with these.
    $script:promptMode = Get-ConTerminalMode $script:terminal

    # Attaches in the pane and waits for the banner; returns the number of banners seen so far.
    function Connect-InPane {
        $before = ([regex]::Matches((Get-ConScreen $script:terminal), 'Press Ctrl\+\] to detach')).Count
        Send-ConKeys $script:terminal -Text "Connect-MyVmConsole -Name $($script:vm)" -Key Enter
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (([regex]::Matches((Get-ConScreen $script:terminal), 'Press Ctrl\+\] to detach')).Count -le $before) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "no banner:`n$(Get-ConScreen $script:terminal)" }
            Start-Sleep -Milliseconds 200
        }
    }

    # The prompt answers a new expression (its result on a line of its own) with the settings from before.
    function Assert-PromptBack([string] $Tag) {
        Send-ConKeys $script:terminal -Text "'$Tag' + '-back'" -Key Enter
        $null = Wait-ConScreen $script:terminal -Pattern "(?m)^$Tag-back$" -TimeoutSeconds 30
        Get-ConTerminalMode $script:terminal | Should -Be $script:promptMode
    }
}

AfterAll {
    Remove-ConTerminal $script:terminal
    if (Get-Command -Name Get-MyVm -ErrorAction Ignore) {
        Get-MyVm -ErrorAction SilentlyContinue | Remove-MyVm -Force -Confirm:$false -ErrorAction Continue
    }
    Assert-MyHvNoLeftovers -Home $script:vmHome
    if ($script:work) { Remove-Item -LiteralPath $script:work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Connect-MyVmConsole in a terminal' {
    It 'types into the guest shell, shows its answer, refuses a second session, and detaches with Ctrl+]' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, tmux and stty' -Condition $script:ready
        Connect-InPane
        # Raw mode while attached: the settings differ from the prompt's.
        Get-ConTerminalMode $script:terminal | Should -Not -Be $script:promptMode

        # The guest's shell computes the answer, so the echo of the typed line cannot match it.
        Send-ConKeys $script:terminal -Text 'echo con$((6*7))sole' -Key Enter
        $null = Wait-ConScreen $script:terminal -Pattern '(?m)^con42sole\r?$'

        $err = $null
        Connect-MyVmConsole -Name $script:vm -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmBusy,*'
        $err[0].Exception.Message | Should -Match 'Another session is attached'

        Send-ConKeys $script:terminal -Key 'C-]'
        $null = Wait-ConScreen $script:terminal -Pattern "Detached from the console of VM '$($script:vm)'"
        Assert-PromptBack 'detach'
        (Get-MyVm -Name $script:vm).Status | Should -Be 'Running'
        # Everything the guest printed while attached is in the log too.
        (Get-MyVmConsole -Name $script:vm) -contains 'con42sole' | Should -BeTrue
    }

    It 'ends the session on a stop (SIGINT to the pwsh in the pane) and gives the terminal back' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, tmux and stty' -Condition $script:ready
        Connect-InPane
        & kill -INT (Get-ConPanePid $script:terminal)
        $null = Wait-ConScreen $script:terminal -Pattern "(?s)Detached from the console of VM '$($script:vm)'.*Detached from the console of VM '$($script:vm)'"
        Assert-PromptBack 'stopped'
        # The lock went with the session: a new one attaches at once.
        Connect-InPane
        Send-ConKeys $script:terminal -Key 'C-]'
        Assert-PromptBack 'again'
    }

    It 'ends the session when the VM powers off, gives the terminal back, and then refuses with VmNotRunning' {
        Skip-UnlessPrerequisite -Name 'qemu-system-x86_64, tmux and stty' -Condition $script:ready
        Connect-InPane
        Send-ConKeys $script:terminal -Text 'poweroff -f' -Key Enter
        $null = Wait-ConScreen $script:terminal -Pattern "The console of VM '$($script:vm)' closed: the VM has powered off"
        Assert-PromptBack 'poweroff'

        $err = $null
        Connect-MyVmConsole -Name $script:vm -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VmNotRunning,*'
        (Get-MyVm -Name $script:vm).Status | Should -Not -Be 'Running'
    }
}
