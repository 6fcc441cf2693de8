using System.Net.Sockets;
using System.Text;
using MyHypervisor.Core.Configuration;
using MyHypervisor.Core.Errors;
using MyHypervisor.Core.Vms;

namespace MyHypervisor.Core.SerialConsole;

/// <summary>
/// An interactive session on a VM's serial line: the hypervisor offers it on run/&lt;name&gt;/console.sock
/// and keeps logging every byte the guest prints to console.log whether or not anyone is attached.
/// One session at a time (an exclusive lock beside the socket); the terminal is in raw mode
/// while attached and put back on every way out (detach, the VM powering off, a stop, an error,
/// the process exiting).
/// </summary>
public sealed class ConsoleAttachment : IDisposable
{
    /// <summary>Ctrl+]: the key that detaches, as in telnet and virsh console.</summary>
    public const byte DetachKey = 0x1d;
    private static readonly TimeSpan InputPoll = TimeSpan.FromMilliseconds(200);

    public enum Ending
    {
        /// <summary>The user pressed Ctrl+].</summary>
        Detached,
        /// <summary>The hypervisor closed the line: the VM powered off.</summary>
        PoweredOff,
        /// <summary>Standard input ended (input from a pipe or file).</summary>
        InputEnded,
        /// <summary>The command was stopped.</summary>
        Stopped,
    }

    private readonly string name;
    private readonly FileStream sessionLock;
    private readonly Socket line;

    private ConsoleAttachment(string name, FileStream sessionLock, Socket line)
    {
        this.name = name;
        this.sessionLock = sessionLock;
        this.line = line;
    }

    /// <summary>
    /// Takes the session lock and connects to the VM's console socket. <paramref name="state"/> is
    /// the reconciled state: a VM that is not running (or paused) has no line to attach to.
    /// </summary>
    public static ConsoleAttachment Open(MyHvPaths paths, string name, VmState state)
    {
        if (!state.Status.IsLive())
            throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' is not running (it is {state.Status}): there is no console to attach to. Start-MyVm -Name {name} starts it.", name);
        var socketPath = paths.ConsoleSocket(name);
        if (!File.Exists(socketPath))
            throw new MyHvException(MyHvErrorKind.VmNotRunning,
                $"VM '{name}' has no console socket ({socketPath}): it was started without one. Restart-MyVm -Name {name} offers it.", name);
        var sessionLock = Lock(paths.ConsoleLock(name), name);
        var line = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            line.Connect(new UnixDomainSocketEndPoint(socketPath));
            return new ConsoleAttachment(name, sessionLock, line);
        }
        catch (SocketException e)
        {
            line.Dispose();
            sessionLock.Dispose();
            throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' does not answer on its console socket ({e.SocketErrorCode}): it has stopped or is stopping.", name, e);
        }
    }

    /// <summary>An flock taken without waiting (FileShare.None): a second session is refused at once.</summary>
    private static FileStream Lock(string lockFile, string name)
    {
        try
        {
            return new FileStream(lockFile, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (DirectoryNotFoundException e)
        {
            throw new MyHvException(MyHvErrorKind.VmNotRunning, $"VM '{name}' is not running: its runtime folder is gone.", name, e);
        }
        catch (IOException e)
        {
            throw new MyHvException(MyHvErrorKind.VmBusy,
                $"Another session is attached to the console of VM '{name}'. Detach it (Ctrl+] in that terminal) and try again.", name, e);
        }
    }

    /// <summary>
    /// Copies standard input to the line and the line to <paramref name="output"/> until Ctrl+],
    /// the end of the line or of the input, or <paramref name="cancel"/>. Every other byte (Ctrl+C
    /// included) goes to the guest, as a serial terminal would send it.
    /// </summary>
    public Ending Run(Stream output, CancellationToken cancel)
    {
        try { return Attached(output, cancel); }
        catch (IOException e)
        {
            // The terminal itself failed (its settings could not be changed, the screen was closed).
            throw new MyHvException(MyHvErrorKind.PrerequisiteMissing,
                $"The console session of VM '{name}' needs a usable terminal: {e.Message}", name, e);
        }
    }

    private Ending Attached(Stream output, CancellationToken cancel)
    {
        Say(output, $"Connected to the console of VM '{name}'. Press Ctrl+] to detach.\r\n");
        var lineClosed = new ManualResetEventSlim();
        Ending ending;
        using (var terminal = RawTerminal.Enter())
        {
            // A process ending some other way (SIGTERM) still gives the terminal back.
            EventHandler restore = (_, _) => terminal?.Dispose();
            AppDomain.CurrentDomain.ProcessExit += restore;
            var guestToScreen = Task.Run(() => CopyLine(output, lineClosed));
            try { ending = CopyInput(lineClosed, cancel); }
            finally
            {
                AppDomain.CurrentDomain.ProcessExit -= restore;
                try { line.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
                guestToScreen.Wait(TimeSpan.FromSeconds(2));
            }
        }
        Say(output, ending switch
        {
            Ending.PoweredOff => $"\r\nThe console of VM '{name}' closed: the VM has powered off.\r\n",
            _ => $"\r\nDetached from the console of VM '{name}'.\r\n",
        });
        return ending;
    }

    private Ending CopyInput(ManualResetEventSlim lineClosed, CancellationToken cancel)
    {
        var buffer = new byte[4096];
        while (true)
        {
            if (cancel.IsCancellationRequested) return Ending.Stopped;
            if (lineClosed.IsSet) return Ending.PoweredOff;
            var count = StandardInput.Read(buffer, InputPoll);
            if (count < 0) continue;
            if (count == 0) return Ending.InputEnded;
            var detach = Array.IndexOf(buffer, DetachKey, 0, count);
            if (!Send(buffer, detach < 0 ? count : detach)) return Ending.PoweredOff;
            if (detach >= 0) return Ending.Detached;
        }
    }

    private bool Send(byte[] buffer, int count)
    {
        try
        {
            for (var sent = 0; sent < count;) sent += line.Send(buffer, sent, count - sent, SocketFlags.None);
            return true;
        }
        catch (SocketException) { return false; }
    }

    private void CopyLine(Stream output, ManualResetEventSlim lineClosed)
    {
        var buffer = new byte[4096];
        try
        {
            int count;
            while ((count = line.Receive(buffer)) > 0)
            {
                output.Write(buffer, 0, count);
                output.Flush();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException) { }
        finally { lineClosed.Set(); }
    }

    private static void Say(Stream output, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        output.Write(bytes, 0, bytes.Length);
        output.Flush();
    }

    public void Dispose()
    {
        line.Dispose();
        // The lock file stays (it goes with the runtime folder): unlinking it could let two
        // sessions lock two different files at the same path.
        sessionLock.Dispose();
    }
}
