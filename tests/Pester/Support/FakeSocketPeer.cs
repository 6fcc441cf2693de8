// The socket side the fake peers (FakeQmpPeer.cs, FakeGuestAgentPeer.cs) share: a unix socket
// server on threads of this process that hands each client to the peer's Handle, counts what it
// sent, and on Dispose closes everything and removes its socket file.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace MyHvTests
{
    public abstract class FakeSocketPeer : IDisposable
    {
        private readonly Socket listener;
        private readonly List<Socket> clients = new List<Socket>();
        private long bytesSent;
        protected volatile bool stopping;

        public string SocketPath { get; private set; }
        /// <summary>How the peer behaves, as the test asked (each peer documents its modes).</summary>
        protected string Mode { get; private set; }
        public long BytesSent { get { return Interlocked.Read(ref bytesSent); } }

        protected FakeSocketPeer(string socketPath, string mode)
        {
            // Set before the accept thread starts: a client may connect at once.
            SocketPath = socketPath;
            Mode = mode;
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen(8);
            new Thread(Serve) { IsBackground = true }.Start();
        }

        /// <summary>One client's conversation, on its own thread; the client is closed after it.</summary>
        protected abstract void Handle(Socket client);

        private void Serve()
        {
            while (!stopping)
            {
                Socket client;
                try { client = listener.Accept(); }
                catch (Exception) { return; }
                lock (clients) clients.Add(client);
                new Thread(() => Handle(client)) { IsBackground = true }.Start();
            }
        }

        protected void Send(Socket client, string text) { Send(client, Encoding.UTF8.GetBytes(text)); }

        protected void Send(Socket client, byte[] bytes)
        {
            client.Send(bytes);
            Interlocked.Add(ref bytesSent, bytes.Length);
        }

        protected void Idle() { while (!stopping) Thread.Sleep(20); }

        public void Dispose()
        {
            stopping = true;
            listener.Dispose();
            lock (clients) foreach (var c in clients) { try { c.Dispose(); } catch (Exception) { } }
            try { File.Delete(SocketPath); } catch (Exception) { }
        }
    }
}
