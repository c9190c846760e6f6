using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.FunctionalTests.Tls;
using SiteX.Samples.V1;
using SiteX.Server.Configuration;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

// The gateways' gRPC ports are served by SiteX's own HTTP/2 server half by default (Http2Server = SiteX, ADR 0011), so
// the whole suite runs on it; what it answers to callers that break the protocol is below. Kestrel's HTTP/2 stays as a
// fallback: every call shape (unary, the three streaming shapes, metadata, trailers, grpc-status, deadlines,
// cancellation, compression, a 64 MiB message), a peer that stops and comes back, and inbound mutual TLS with the
// peer's identity from its certificate run on it here too, and SITEXTEST_HTTP2_SERVER=Kestrel runs the whole suite on it.

/// <summary><see cref="CallShapeTests"/> with Kestrel's HTTP/2 at both gateways.</summary>
public sealed class KestrelServerCallShapeTests(ITestOutputHelper output) : CallShapeTests(output)
{
    protected override Http2ServerEngine? Http2Server => Http2ServerEngine.Kestrel;
}

/// <summary><see cref="PeerRestartTests"/> with Kestrel's HTTP/2.</summary>
public sealed class KestrelServerPeerRestartTests(ITestOutputHelper output) : PeerRestartTests(output)
{
    protected override Http2ServerEngine? Http2Server => Http2ServerEngine.Kestrel;
}

/// <summary><see cref="OutboundTlsTests"/> with Kestrel's HTTP/2 on the TLS ports (client certificates, the peer's
/// party from its certificate).</summary>
public sealed class KestrelServerOutboundTlsTests(ITestOutputHelper output) : OutboundTlsTests(output)
{
    protected override Http2ServerEngine? Http2Server => Http2ServerEngine.Kestrel;
}

/// <summary>The relay's shortcut on SiteX's own server: a forwarded request's DATA goes from the caller's connection
/// straight into the next hop's, and arrives whole and in order.</summary>
public sealed class SiteXServerRelayShortcutTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(Http2ServerEngine.SiteX)]
    [InlineData(Http2ServerEngine.Kestrel)]
    public async Task AStreamedRequest_ArrivesWholeAndInOrder_StraightFromTheCallersConnectionOnlyOnSiteXsServer(Http2ServerEngine engine)
    {
        await using var cluster = new TestCluster(output) { Http2Server = engine };
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var relay = sites.A.Server.Services.GetRequiredService<SiteX.Server.Forwarding.H2.H2Relay>();
        var sent = new MemoryStream();
        var order = new StringBuilder();

        using var call = client.ClientStream(TestCluster.Target(TwoSites.PartyB, "echo"), TestCluster.Deadline());
        for (var i = 0; i < 200; i++)
        {
            var payload = new byte[64 * 1024];
            Random.Shared.NextBytes(payload);
            sent.Write(payload);
            order.Append(i % 10);
            await call.RequestStream.WriteAsync(new EchoRequest { Text = (i % 10).ToString(System.Globalization.CultureInfo.InvariantCulture), Payload = ByteString.CopyFrom(payload) }).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var reply = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(200, reply.Count);
        Assert.Equal(order.ToString(), reply.Text);
        Assert.True(sent.ToArray().AsSpan().SequenceEqual(reply.Payload.Span), "the service received the bytes the client sent, in order");
        if (engine == Http2ServerEngine.SiteX)
        {
            Assert.True(relay.DirectRequestBytes > 0, "some of the request went straight from the caller's connection to the next hop's");
        }
        else
        {
            Assert.Equal(0, relay.DirectRequestBytes);
        }

        output.WriteLine($"{relay.DirectRequestBytes} of {sent.Length} request bytes went straight through at A");
        cluster.AssertNoUnexpectedErrors();
    }
}

/// <summary>Many large responses at once on one connection: what SiteX's server batches and bounds must not hold them
/// back or cut off a caller that reads them (and sends PINGs, as .NET's client does while it receives).</summary>
public sealed class SiteXServerLargeResponsesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SixteenConcurrentMegabyteCalls_OnOneConnection_AllComplete_RoundAfterRound()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var payload = new byte[1024 * 1024];
        Random.Shared.NextBytes(payload);
        var request = new EchoRequest { Payload = ByteString.CopyFrom(payload) };

        for (var round = 0; round < 8; round++)
        {
            var calls = Enumerable.Range(0, 16).Select(_ => client.UnaryAsync(request, TestCluster.Target(TwoSites.PartyB), TestCluster.Deadline()).ResponseAsync);
            var replies = await Task.WhenAll(calls).DefaultTimeout();
            Assert.All(replies, reply => Assert.True(reply.Payload.Span.SequenceEqual(payload), $"round {round}: a reply of {reply.Payload.Length} bytes differs from the 1 MiB sent"));
        }

        Assert.DoesNotContain(sites.A.Logs.Entries.Concat(sites.B.Logs.Entries), e => e.EventId.Id == 1140);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task SixteenConcurrentMegabytePops_OnOneConnection_AllArrive()
    {
        const string session = "202611291330000000001_large_pops_0_0";
        const int topics = 16;
        const int perTopic = 6;
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var (_, host) = await QueueSites.StartAsync(cluster);
        var producer = new FateMqClient(host.GrpcPort, session, "10000", "host");
        for (var m = 0; m < perTopic; m++)
        {
            await Task.WhenAll(Enumerable.Range(0, topics).Select(t =>
                producer.ProduceAsync("10000", $"t{t}", $"m{m}", "tag", Payloads.Make((t * 100) + m, 1024 * 1024)))).DefaultTimeout();
        }

        // One connection for every pop, as a consumer with one channel has: 16 responses of 1 MiB written at once.
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{host.GrpcPort}", new Grpc.Net.Client.GrpcChannelOptions { MaxReceiveMessageSize = null });
        var consumer = new SiteX.Protocol.Ptp.PrivateTransferTransport.PrivateTransferTransportClient(channel);
        var headers = new Grpc.Core.Metadata { { "x-ptp-session-id", session }, { "x-ptp-from-node-id", "10000" }, { "x-ptp-tech-provider-code", "FATE" } };
        await Task.WhenAll(Enumerable.Range(0, topics).Select(async t =>
        {
            for (var m = 0; m < perTopic; m++)
            {
                var reply = await consumer.popAsync(new SiteX.Protocol.Ptp.PopInbound { Topic = $"t{t}", Timeout = 30_000 }, headers);
                Assert.Equal("E0000000000", reply.Code);
                var body = SiteX.Protocol.Ptp.Message.Parser.ParseFrom(reply.Payload).Body;
                Assert.True(body.Span.SequenceEqual(Payloads.Make((t * 100) + m, 1024 * 1024)), $"topic t{t} message {m}: {body.Length} bytes differ");
            }
        })).DefaultTimeout();

        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Id == 1140);
        cluster.AssertNoUnexpectedErrors();
    }
}

/// <summary>Callers that break HTTP/2 get an error that names the problem, and only the broken stream or connection
/// pays for it.</summary>
public sealed class Http2ServerProtocolTests(ITestOutputHelper output)
{
    private const int Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, WindowUpdate = 8;
    private const uint ProtocolError = 1, FrameSizeError = 6;

    [Fact]
    public async Task AConnectionWithoutTheClientPreface_GetsGoAwayNamingTheProblem()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);

        await peer.SendAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"));
        var goAway = await peer.ReadUntilAsync(GoAway);

        Assert.Equal(ProtocolError, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
        Assert.Contains("client preface", Encoding.UTF8.GetString(goAway.Payload.AsSpan(8)), StringComparison.Ordinal);
        Assert.True(await peer.ClosedAsync(), "the connection should close after GOAWAY");
    }

    [Fact]
    public async Task AnUpperCaseHeaderName_ResetsThatStream_AndTheConnectionServesTheNextRequest()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);
        await peer.StartAsync();

        await peer.SendFrameAsync(Headers, 0x5, 1, Request(("X-Bad", "1")));
        var reset = await peer.ReadUntilAsync(RstStream);
        await peer.SendFrameAsync(Headers, 0x5, 3, Request(("x-ptp-target-node-id", "no-such-party")));
        var answer = await peer.ReadUntilAsync(Headers);

        Assert.Equal(1, reset.StreamId);
        Assert.Equal(ProtocolError, BinaryPrimitives.ReadUInt32BigEndian(reset.Payload));
        Assert.Equal(3, answer.StreamId);
        Assert.True(answer.Payload.Length > 0, "the next request got response headers");
    }

    [Fact]
    public async Task APingFloodThatNeverReadsTheAcknowledgements_EndsTheConnection_WithItsOutputBounded()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);
        await peer.StartAsync();
        var batch = new byte[17 * 4096]; // 4096 PING frames, never read back
        for (var i = 0; i < batch.Length; i += 17)
        {
            batch[i + 2] = 8;
            batch[i + 3] = 6;
        }

        // Up to 20 times the bound in PING acknowledgements; the server stops reading once it has given up.
        var sent = 0L;
        while (sent < 20L * 4 * 1024 * 1024 && !sites.A.Logs.Entries.Any(e => e.EventId.Id == 1140))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await peer.SendAsync(batch, timeout.Token);
                sent += batch.Length;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                break;
            }
        }

        var logged = await Eventually.ReturnsAsync(
            () => Task.FromResult(sites.A.Logs.Entries.Where(e => e.EventId.Id == 1140).ToList()), entries => entries.Count > 0, "the protocol error to be logged");
        var ended = logged[0];
        Assert.Contains("EnhanceYourCalm", ended.Message, StringComparison.Ordinal);
        Assert.Contains("PING frames arrive faster than the connection reads their answers", ended.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFrameLargerThanTheAdvertisedMaximum_GetsGoAwayFrameSizeError()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);
        await peer.StartAsync();

        await peer.SendFrameAsync(Headers, 0x4, 1, Request());
        await peer.SendFrameAsync(Data, 0, 1, new byte[20_000]);
        var goAway = await peer.ReadUntilAsync(GoAway);

        Assert.Equal(FrameSizeError, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
        Assert.Contains("20000 bytes", Encoding.UTF8.GetString(goAway.Payload.AsSpan(8)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataOnAStreamNeverOpened_GetsGoAwayProtocolError()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);
        await peer.StartAsync();

        await peer.SendFrameAsync(Data, 0, 5, new byte[10]);
        var goAway = await peer.ReadUntilAsync(GoAway);

        Assert.Equal(ProtocolError, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
        Assert.Contains("never opened", Encoding.UTF8.GetString(goAway.Payload.AsSpan(8)), StringComparison.Ordinal);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AResponseLargerThanTheCallersWindow_StaysWithinIt_AndItsTrailersComeLast()
    {
        const int window = 4096;
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var sites = await TwoSites.StartAsync(cluster);
        using var peer = await RawPeer.ConnectAsync(sites.A.GrpcPort);
        var settings = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(settings, 4); // SETTINGS_INITIAL_WINDOW_SIZE
        BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(2), window);
        await peer.StartAsync(settings);
        var message = new SiteX.Samples.V1.EchoRequest { Text = "windowed", Payload = ByteString.CopyFrom(new byte[200_000]) }.ToByteArray();
        var body = new byte[5 + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(1), message.Length);
        message.CopyTo(body, 5);

        await peer.SendFrameAsync(Headers, 0x4, 1, Request("/sitex.samples.v1.Echo/Unary", ("x-ptp-target-node-id", TwoSites.PartyB), ("x-ptp-target-component-name", "echo")));
        for (var offset = 0; offset < body.Length; offset += 16_384)
        {
            var part = body.AsSpan(offset, Math.Min(16_384, body.Length - offset)).ToArray();
            await peer.SendFrameAsync(Data, offset + part.Length == body.Length ? 0x1 : 0, 1, part);
        }

        var (order, received, credit, lowestCredit) = (new List<string>(), 0, window, window);
        while (true)
        {
            var frame = await peer.ReadUntilAsync(Headers, Data, RstStream);
            Assert.Equal(1, frame.StreamId);
            if (frame.Type == RstStream)
            {
                Assert.Fail($"the stream was reset ({BinaryPrimitives.ReadUInt32BigEndian(frame.Payload)})");
            }

            order.Add(frame.Type == Data ? "data" : "headers");
            if (frame.Type == Data && frame.Payload.Length > 0)
            {
                // Granted back one frame at a time: the server may never have more than `window` bytes outstanding.
                credit -= frame.Payload.Length;
                lowestCredit = Math.Min(lowestCredit, credit);
                received += frame.Payload.Length;
                credit += frame.Payload.Length;
                var increment = new byte[4];
                BinaryPrimitives.WriteInt32BigEndian(increment, frame.Payload.Length);
                await peer.SendFrameAsync(WindowUpdate, 0, 1, increment);
                await peer.SendFrameAsync(WindowUpdate, 0, 0, increment);
            }

            if ((frame.Flags & 0x1) != 0)
            {
                break;
            }
        }

        Assert.True(received > 200_000, $"{received} bytes of response body");
        Assert.True(lowestCredit >= 0, $"the server sent {-lowestCredit} bytes beyond the {window}-byte stream window");
        Assert.Equal("headers", order[0]);
        Assert.Equal("headers", order[^1]); // the trailers, with END_STREAM, after every byte of the body
        Assert.All(order.Skip(1).SkipLast(1), kind => Assert.Equal("data", kind));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task AConnectionWithoutRequestsForTheIdleTimeout_GetsGoAwayAndIsClosed()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var gateway = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA), configure: o => o.IdleTimeout = TimeSpan.FromSeconds(1));
        using var peer = await RawPeer.ConnectAsync(gateway.GrpcPort);
        await peer.StartAsync();

        var goAway = await peer.ReadUntilAsync(GoAway);

        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4))); // NO_ERROR
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(goAway.Payload)); // no stream was opened
        Assert.True(await peer.ClosedAsync(), "the connection should close after GOAWAY");
    }

    [Fact]
    public async Task ASilentCaller_GetsKeepAlivePings_AndIsCutOffWhenItStopsAnsweringThem()
    {
        await using var cluster = new TestCluster(output) { Http2Server = Http2ServerEngine.SiteX };
        var gateway = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA), configure: o =>
        {
            o.KeepAlivePingDelay = TimeSpan.FromSeconds(1); // the shortest Kestrel takes
            o.KeepAlivePingTimeout = TimeSpan.FromSeconds(1);
        });
        using var peer = await RawPeer.ConnectAsync(gateway.GrpcPort);
        await peer.StartAsync();

        // The first PING is answered: the connection lives on and, silent again, gets a second one.
        var first = await peer.ReadUntilAsync(Ping);
        await peer.SendFrameAsync(Ping, 0x1, 0, first.Payload);
        var second = await peer.ReadUntilAsync(Ping);

        // The second is not: the connection is closed and the server says why.
        Assert.Equal(0, first.Flags & 0x1);
        Assert.Equal(8, second.Payload.Length);
        Assert.True(await peer.ClosedAsync(), "the connection should close when a keepalive PING goes unanswered");
        var logged = await Eventually.ReturnsAsync(
            () => Task.FromResult(gateway.Logs.Entries.Where(e => e.EventId.Id == 1145).ToList()), entries => entries.Count > 0, "the keepalive timeout to be logged");
        Assert.Single(logged);
    }

    /// <summary>A gRPC request header block (HPACK literals without indexing, no Huffman) with extra fields.</summary>
    private static byte[] Request(params (string Name, string Value)[] extra) => Request("/org.ppc.ptp.PrivateTransferProtocol/invoke", extra);

    private static byte[] Request(string path, params (string Name, string Value)[] extra)
    {
        var block = new List<byte>();
        void Literal(string name, string value)
        {
            block.Add(0x00);
            block.Add((byte)name.Length);
            block.AddRange(Encoding.ASCII.GetBytes(name));
            block.Add((byte)value.Length);
            block.AddRange(Encoding.ASCII.GetBytes(value));
        }

        Literal(":method", "POST");
        Literal(":scheme", "http");
        Literal(":path", path);
        Literal(":authority", "localhost");
        Literal("content-type", "application/grpc");
        Literal("te", "trailers");
        foreach (var (name, value) in extra)
        {
            Literal(name, value);
        }

        return [.. block];
    }

    private sealed record Frame(int Type, int Flags, int StreamId, byte[] Payload);

    /// <summary>An HTTP/2 client that writes frames by hand over a loopback socket.</summary>
    private sealed class RawPeer : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;

        private RawPeer(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: false);
        }

        public static async Task<RawPeer> ConnectAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port).DefaultTimeout();
            return new RawPeer(socket);
        }

        /// <summary>The client preface and a SETTINGS frame (empty unless <paramref name="settings"/> is given).</summary>
        public async Task StartAsync(byte[]? settings = null)
        {
            await SendAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
            await SendFrameAsync(Settings, 0, 0, settings ?? []);
        }

        public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask().DefaultTimeout();

        public Task SendAsync(byte[] bytes, CancellationToken cancellationToken) => _stream.WriteAsync(bytes, cancellationToken).AsTask();

        public Task SendFrameAsync(int type, int flags, int streamId, byte[] payload)
        {
            var frame = new byte[9 + payload.Length];
            frame[0] = (byte)(payload.Length >> 16);
            frame[1] = (byte)(payload.Length >> 8);
            frame[2] = (byte)payload.Length;
            frame[3] = (byte)type;
            frame[4] = (byte)flags;
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
            payload.CopyTo(frame, 9);
            return SendAsync(frame);
        }

        /// <summary>Reads frames until one of <paramref name="types"/> (others are skipped).</summary>
        public async Task<Frame> ReadUntilAsync(params int[] types)
        {
            while (true)
            {
                var frame = await ReadFrameAsync().DefaultTimeout() ?? throw new InvalidOperationException($"the connection closed before a frame of type {string.Join(" or ", types)}");
                if (types.Contains(frame.Type))
                {
                    return frame;
                }
            }
        }

        /// <summary>True when the server closes the connection (reads end) within the timeout.</summary>
        public async Task<bool> ClosedAsync()
        {
            while (await ReadFrameAsync().DefaultTimeout() is not null)
            {
            }

            return true;
        }

        private async Task<Frame?> ReadFrameAsync()
        {
            var header = new byte[9];
            if (!await ReadExactlyAsync(header))
            {
                return null;
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var payload = new byte[length];
            if (!await ReadExactlyAsync(payload))
            {
                return null;
            }

            return new Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF, payload);
        }

        private async Task<bool> ReadExactlyAsync(byte[] buffer)
        {
            try
            {
                await _stream.ReadExactlyAsync(buffer);
                return true;
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _stream.Dispose();
            _socket.Dispose();
        }
    }
}
