namespace MyHypervisor.Core.Guest;

/// <summary>
/// One agent client per VM at a time: QEMU's socket chardev serves a single connection, and a
/// second client would sit unanswered in its backlog. An flock on a file in the run's folder
/// (which goes with the run), never creating that folder: a VM that stopped has no agent to lock.
/// </summary>
public sealed class GuestAgentLock : IDisposable
{
    private readonly FileStream stream;
    private GuestAgentLock(FileStream stream) => this.stream = stream;

    /// <summary>Null when another command holds the agent past <paramref name="wait"/>; throws DirectoryNotFoundException when the run is gone.</summary>
    public static GuestAgentLock? TryAcquire(string runtimeDirectory, TimeSpan wait, CancellationToken cancel)
    {
        var path = Path.Combine(runtimeDirectory, "agent.lock");
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                return new GuestAgentLock(new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                }));
            }
            catch (DirectoryNotFoundException) { throw; }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(20);
            }
            catch (IOException) { return null; }
        }
    }

    public void Dispose() => stream.Dispose();
}
