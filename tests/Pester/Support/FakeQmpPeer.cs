// A fake QMP peer for QmpPeerBounds.Tests.ps1 (compiled there with Add-Type): a unix socket
// server that greets like QEMU and then behaves as the test asks, well or badly.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace MyHvTests
{
    public sealed class FakeQmpPeer : FakeSocketPeer
    {
        private const string Greeting = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"fake\"}, \"capabilities\": []}}\n";

        public static int GreetingBytes { get { return Encoding.UTF8.GetByteCount(Greeting); } }

        /// <summary>good | nogreeting | silent | trickle | flood | hugeline, or channelflood (a guest channel, not QMP)</summary>
        public FakeQmpPeer(string socketPath, string mode) : base(socketPath, mode) { }

        protected override void Handle(Socket client)
        {
            try
            {
                if (Mode == "nogreeting") { Idle(); return; }
                if (Mode == "channelflood")
                {
                    // Not QMP: a guest channel that floods 20 MB of noise before its READY.
                    // One buffer sent 320 times: the peer itself allocates nothing per chunk, so the
                    // test's memory figure is the reader's alone.
                    var noise = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
                    for (var i = 0; i < 320 && !stopping; i++) Send(client, noise);
                    Send(client, "READY\n");
                    Idle();
                    return;
                }
                Send(client, Greeting);
                switch (Mode)
                {
                    case "good": AnswerAll(client); break;
                    case "silent": Idle(); break;
                    case "trickle":
                        // A reply that never ends: one byte every 20 ms, each renewing any per-receive timeout.
                        var reply = "{\"return\": {}, \"id\": \"myhv-1\", \"pad\": \"" + new string('x', 100000);
                        foreach (var c in reply)
                        {
                            if (stopping) return;
                            Send(client, c.ToString());
                            Thread.Sleep(20);
                        }
                        break;
                    case "flood":
                        var ev = "{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n";
                        var block = new StringBuilder();
                        for (var i = 0; i < 200; i++) block.Append(ev);
                        var chunk = block.ToString();
                        while (!stopping) Send(client, chunk);
                        break;
                    case "hugeline":
                        // 100 MB in one line, sent as fast as the client takes it.
                        var mb = new string('x', 1024 * 1024);
                        Send(client, "{\"return\": \"");
                        for (var i = 0; i < 100 && !stopping; i++) Send(client, mb);
                        Send(client, "\", \"id\": \"myhv-2\"}\n");
                        Idle();
                        break;
                }
            }
            catch (Exception) { }
            finally { client.Dispose(); }
        }

        private void AnswerAll(Socket client)
        {
            var reader = new StreamReader(new NetworkStream(client, false));
            string line;
            while ((line = reader.ReadLine()) != null)
            {
                var id = Regex.Match(line, "\"id\"\\s*:\\s*\"([^\"]*)\"").Groups[1].Value;
                var ret = line.Contains("query-status") ? "{\"running\": true, \"status\": \"running\"}" : "{}";
                Send(client, "{\"event\": \"RTC_CHANGE\", \"data\": {}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n");
                Send(client, "{\"return\": " + ret + ", \"id\": \"" + id + "\"}\n");
            }
        }
    }
}
