# Crashes with a message on stderr, then ends the process with a non-zero code.
Describe 'crashes' {
    It 'ends the process' {
        [Console]::Error.WriteLine('crashing on purpose: fixture PassAndCrash')
        [Environment]::Exit(42)
    }
}
