using System.Net.Sockets;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MyHypervisor.Core.Protocols;

/// <summary>
/// Reads JSON messages, one a line, from a socket whose peer is not trusted (QMP; the guest
/// agent, whose far end a guest controls). Bytes already received are used first, then the
/// socket is read, waiting only until the caller's deadline, in short polls so a cancellation is
/// seen at once. At most <see cref="MaxLineBytes"/> of one line are ever held: a longer line ends
/// the read as <see cref="JsonLineOutcome.TooLong"/> before anything past the limit is kept.
/// </summary>
/// <remarks>
/// It decides nothing: each outcome (a message, a line that is not a JSON object, the deadline,
/// the peer closing, a line too long) goes back to the protocol, which says in its own words what
/// that means. Socket errors are thrown as they come, for the same reason. Blank lines are skipped.
/// </remarks>
public sealed class JsonLineReader : IDisposable
{
    /// <summary>How often a wait wakes up to see the cancellation token.</summary>
    private static readonly TimeSpan WaitSlice = TimeSpan.FromMilliseconds(100);

    private readonly Socket socket;
    private readonly byte? resetByte;
    private readonly byte[] received = new byte[64 * 1024];
    private int receivedStart, receivedEnd;
    private readonly MemoryStream line = new();
    private bool discardUntilReset;

    /// <param name="socket">The connected socket; it stays the caller's (not disposed here).</param>
    /// <param name="maxLineBytes">The longest line accepted.</param>
    /// <param name="resetByte">
    /// A byte that, wherever it comes, drops the line begun so far (the guest agent's 0xFF
    /// sentinel); null when the protocol has none.
    /// </param>
    public JsonLineReader(Socket socket, int maxLineBytes, byte? resetByte = null)
    {
        this.socket = socket;
        MaxLineBytes = maxLineBytes;
        this.resetByte = resetByte;
    }

    public int MaxLineBytes { get; }

    /// <summary>
    /// Skips everything up to and including the next reset byte (what came before it is stale);
    /// the reads after it see only what follows.
    /// </summary>
    public void DiscardUntilReset()
    {
        if (resetByte is null) throw new InvalidOperationException("this protocol has no reset byte");
        discardUntilReset = true;
    }

    /// <summary>The next non-blank line, or why there is none by <paramref name="deadlineUtc"/>.</summary>
    public JsonLineRead Read(DateTime deadlineUtc, CancellationToken cancel)
    {
        while (true)
        {
            while (receivedStart < receivedEnd)
            {
                var span = received.AsSpan(receivedStart, receivedEnd - receivedStart);
                if (discardUntilReset)
                {
                    var reset = span.IndexOf(resetByte!.Value);
                    if (reset < 0) { receivedStart = receivedEnd; break; }
                    receivedStart += reset + 1;
                    discardUntilReset = false;
                    line.SetLength(0);
                    continue;
                }
                var stop = resetByte is { } r ? span.IndexOfAny((byte)'\n', r) : span.IndexOf((byte)'\n');
                var take = stop < 0 ? span.Length : stop;
                if (line.Length + take > MaxLineBytes)
                {
                    line.SetLength(0);
                    return new JsonLineRead(JsonLineOutcome.TooLong);
                }
                line.Write(span[..take]);
                if (stop < 0) { receivedStart = receivedEnd; break; }
                receivedStart += stop + 1;
                if (span[stop] != (byte)'\n')
                {
                    line.SetLength(0);   // the reset byte: the line so far is dropped
                    continue;
                }
                if (TakeLine() is { } read) return read;
            }

            cancel.ThrowIfCancellationRequested();
            var remaining = deadlineUtc - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) return new JsonLineRead(JsonLineOutcome.TimedOut);
            var slice = remaining < WaitSlice ? remaining : WaitSlice;
            if (!socket.Poll((int)Math.Max(1, slice.TotalMicroseconds), SelectMode.SelectRead)) continue;
            var n = socket.Receive(received, 0, received.Length, SocketFlags.None);
            if (n == 0) return new JsonLineRead(JsonLineOutcome.Closed);
            receivedStart = 0;
            receivedEnd = n;
        }
    }

    /// <summary>The complete line held as a message or garbage; null when it is blank.</summary>
    private JsonLineRead? TakeLine()
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        try
        {
            if (bytes.Trim(" \t\r\v\f"u8).IsEmpty) return null;
            // Parsed as bytes (a guest agent's reply may be tens of MiB); a line that is not valid
            // UTF-8 is decoded first, its bad bytes becoming U+FFFD, so no string read from the
            // message later fails on them.
            var parsed = Utf8.IsValid(bytes) ? JsonNode.Parse(bytes) : JsonNode.Parse(Encoding.UTF8.GetString(bytes));
            return parsed is JsonObject message
                ? new JsonLineRead(JsonLineOutcome.Message, message)
                : new JsonLineRead(JsonLineOutcome.NotAnObject);
        }
        catch (JsonException e)
        {
            return new JsonLineRead(JsonLineOutcome.NotAnObject, ParseError: e);
        }
        finally
        {
            line.SetLength(0);
        }
    }

    public void Dispose() => line.Dispose();
}

public enum JsonLineOutcome
{
    /// <summary>A JSON object: <see cref="JsonLineRead.Message"/>.</summary>
    Message,
    /// <summary>A line that is not JSON (<see cref="JsonLineRead.ParseError"/> says why) or not an object.</summary>
    NotAnObject,
    /// <summary>The deadline passed first; a partial line is kept for the next read.</summary>
    TimedOut,
    /// <summary>The peer closed the connection.</summary>
    Closed,
    /// <summary>A line longer than the limit; what was held of it is dropped.</summary>
    TooLong,
}

/// <summary>One read's outcome, with the message when there is one.</summary>
public readonly record struct JsonLineRead(JsonLineOutcome Outcome, JsonObject? Message = null, JsonException? ParseError = null);
