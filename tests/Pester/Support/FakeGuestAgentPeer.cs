// A fake guest agent for GuestAgentPeerBounds.Tests.ps1 (compiled there with Add-Type): a unix
// socket server that speaks qemu-ga's line protocol (guest-sync-delimited with its 0xFF sentinel,
// replies carrying the request's id) and, as the test asks, puts stale text, garbage or a huge
// line on the wire, or closes.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace MyHvTests
{
    public sealed class FakeGuestAgentPeer : FakeSocketPeer
    {
        private int syncs, commands;

        /// <summary>noisy | stalls | hugeline | closes | silent</summary>
        public FakeGuestAgentPeer(string socketPath, string mode) : base(socketPath, mode) { }

        protected override void Handle(Socket client)
        {
            try
            {
                // Requests are read as bytes: a sync starts with a 0xFF the agent skips.
                var pending = new List<byte>();
                var buffer = new byte[4096];
                int n;
                while (!stopping && (n = client.Receive(buffer)) > 0)
                {
                    for (var i = 0; i < n; i++)
                    {
                        if (buffer[i] == 0xFF) continue;
                        if (buffer[i] != (byte)'\n') { pending.Add(buffer[i]); continue; }
                        var line = Encoding.UTF8.GetString(pending.ToArray());
                        pending.Clear();
                        if (!Answer(client, line)) return;
                    }
                }
            }
            catch (Exception) { }
            finally { client.Dispose(); }
        }

        /// <summary>Answers one request; false when the connection is to end.</summary>
        private bool Answer(Socket client, string request)
        {
            if (Mode == "silent") return true;
            if (request.Contains("guest-sync-delimited"))
            {
                // The stalling agent answers the first two syncs only: a client that does not drop the
                // half reply it holds at the second sync's sentinel never gets in sync again.
                if (Mode == "stalls" && ++syncs > 2) return true;
                var syncId = Regex.Match(request, "\"id\"\\s*:\\s*(\\d+)").Groups[1].Value;
                // What an earlier client left in the pipe comes before the sentinel: a stale reply and
                // half a line. Only a client that drops the half line at the sentinel reads the answer
                // behind it as JSON; one that does not sees garbage and never gets in sync.
                Send(client, "{\"return\": {}, \"id\": \"myhv-1\"}\nhalf a li");
                Send(client, new byte[] { 0xFF });
                Send(client, "{\"return\": " + syncId + "}\n");
                return true;
            }
            var id = Regex.Match(request, "\"id\"\\s*:\\s*\"([^\"]*)\"").Groups[1].Value;
            switch (Mode)
            {
                case "closes":
                    return false;
                case "stalls":
                    // The first reply stops halfway (the client times out holding half a line); the next is whole.
                    if (++commands == 1) { Send(client, "{\"return\": {\"version\": \"la"); return true; }
                    Send(client, "{\"return\": {\"version\": \"fake\"}, \"id\": \"" + id + "\"}\n");
                    return true;
                case "hugeline":
                    // 100 MB in one line (more than the agent's 64 MiB limit), sent as fast as it is taken.
                    var mb = Encoding.ASCII.GetBytes(new string('x', 1024 * 1024));
                    Send(client, "{\"return\": {\"out-data\": \"");
                    for (var i = 0; i < 100 && !stopping; i++) Send(client, mb);
                    Send(client, "\"}, \"id\": \"" + id + "\"}\n");
                    return true;
                default:
                    // Blank lines, garbage, JSON that is not an object and a reply to another id come
                    // first, then half a line that a sentinel cuts off (what stands before one is dropped).
                    Send(client, "\n  \r\nnot json at all\n[1, 2, 3]\n{\"return\": {\"version\": \"stale\"}, \"id\": \"other\"}\n{\"return\": ");
                    Send(client, new byte[] { 0xFF });
                    Send(client, "{\"return\": {\"version\": \"fake\"}, \"id\": \"" + id + "\"}\n");
                    return true;
            }
        }
    }
}
