using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Ptp;
using Xunit.Abstractions;
using GrpcMetadata = Grpc.Core.Metadata;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using PtpMessage = SiteX.Protocol.Ptp.Message;
using Task = System.Threading.Tasks.Task;

namespace SiteX.FunctionalTests.Http;

/// <summary>
/// Gateway-to-gateway hops over the interconnection protocol (wire-contract 2.8, "OSX→OSX over HTTP"): gRPC clients at
/// both ends, an HTTP/1.1 <c>/v1/interconn/chan/invoke</c> in the middle. Queue pushes, PTP invokes and FATE-Flow
/// <c>unaryCall</c> Packets cross it; a <c>DataTransferService.push</c> stream cannot. What SiteX sends a Java OSX
/// HTTP port is checked against a recording fake, and what an HTTP client sends a gRPC OSX against a gRPC fake.
/// </summary>
public sealed class HttpHopTests(ITestOutputHelper output)
{
    private const string Session = "202611290900000000001_hop_0_0";
    private const string PushUri = "/org.ppc.ptp.PrivateTransferTransport/push";
    private const string UnaryUri = "/org.fedai.osx.proxy/unary";
    private const string InvokePath = "/v1/interconn/chan/invoke";
    private const string Guest = "9999";
    private const string Host = "10000";

    // ---- 1. FATE queue mode, gRPC clients, HTTP hop --------------------------------------------------------------

    [Fact]
    public async Task FateGrpcClients_GatewaysHopOverHttp_200MessagesEachWay_InOrderByteExact_AndReleaseLeavesNothing()
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster, httpHop: true);
        var guest = new FateMqClient(guestGateway.GrpcPort, Session, Guest, "guest");
        var host = new FateMqClient(hostGateway.GrpcPort, Session, Host, "host");
        const int count = 200;
        var guestToHost = FateMqClient.Topic(Session, "guest", Guest, "host", Host, "data");
        var hostToGuest = FateMqClient.Topic(Session, "host", Host, "guest", Guest, "data");

        await Task.WhenAll(
            SendAsync(guest, Host, guestToHost, seed: 1),
            SendAsync(host, Guest, hostToGuest, seed: 2),
            ReceiveAsync(host, guestToHost, seed: 1),
            ReceiveAsync(guest, hostToGuest, seed: 2)).DefaultTimeout(TimeSpan.FromMinutes(4));

        Assert.Equal("E0000000000", (await guest.ReleaseAsync().DefaultTimeout()).Code);
        Assert.Equal("E0000000000", (await host.ReleaseAsync().DefaultTimeout()).Code);
        foreach (var gateway in new[] { guestGateway, hostGateway })
        {
            Assert.Empty(gateway.Queues.Snapshot());
            await QueueSites.WaitForStoreToEmptyAsync(gateway);
        }

        // Every message crossed as an HTTP invoke: the sender relayed it to the receiver's HTTP url, and the receiver
        // stored it from its HTTP port; none arrived at the receiver over gRPC.
        await AssertCrossedOverHttpAsync(guestGateway, hostGateway, guestToHost, count);
        await AssertCrossedOverHttpAsync(hostGateway, guestGateway, hostToGuest, count);
        cluster.AssertNoUnexpectedErrors();

        async Task SendAsync(FateMqClient from, string peer, string topic, int seed)
        {
            for (var i = 0; i < count; i++)
            {
                var reply = await from.ProduceAsync(peer, topic, $"obj-{i}", $"tag-{i}", Payloads.Make(seed * 100_000 + i, SizeOf(i))).DefaultTimeout();
                Assert.True(reply.Code == "E0000000000", $"push {i} to {peer}: {reply.Code} {reply.Message}");
            }
        }

        async Task ReceiveAsync(FateMqClient at, string topic, int seed)
        {
            for (var i = 0; i < count; i++)
            {
                var (message, properties, raw) = await at.ConsumeAsync(topic).DefaultTimeout(TimeSpan.FromMinutes(2));
                Assert.Equal("E0000000000", raw.Code);
                Assert.Equal($"obj-{i}", properties["message_id"]);
                Assert.Equal($"tag-{i}", properties["correlation_id"]);
                var expected = Payloads.Make(seed * 100_000 + i, SizeOf(i));
                Assert.True(message.Body.Span.SequenceEqual(expected), $"message {i} on {topic}: {message.Body.Length} bytes differ from the {expected.Length} sent");
            }
        }
    }

    /// <summary>0 B to 1 MiB, mostly small; every 25th 1 MiB, every 100th 4 MiB.</summary>
    private static int SizeOf(int i) => i switch
    {
        0 => 0,
        1 => 1,
        _ when i % 100 == 99 => 4 * 1024 * 1024,
        _ when i % 25 == 24 => 1024 * 1024,
        _ => (i * 7919) % 65_536,
    };

    private static async Task AssertCrossedOverHttpAsync(TestGateway sender, TestGateway receiver, string topic, int count)
    {
        var url = $"http://127.0.0.1:{receiver.HttpPort}{InvokePath}";
        bool IsRelay(string[] f) => f[1] == "GRPC" && f.Contains("MSG_REDIRECT") && f.Contains($"topic:{topic}");
        var relays = (await FlowLinesAsync(sender, lines => lines.Count(IsRelay) >= count, $"{count} relay lines for {topic}")).Where(IsRelay).ToList();
        Assert.Equal(count, relays.Count);
        Assert.All(relays, f => Assert.Contains(url, f));
        Assert.All(relays, f => Assert.Contains("code:E0000000000", f));

        bool IsStore(string[] f) => f.Contains("MSG_DOWNLOAD") && f.Contains($"topic:{topic}");
        var stores = (await FlowLinesAsync(receiver, lines => lines.Count(IsStore) >= count, $"{count} store lines for {topic}")).Where(IsStore).ToList();
        Assert.Equal(count, stores.Count);
        Assert.All(stores, f => Assert.Equal("HTTP", f[1]));
        Assert.All(stores, f => Assert.Contains(PushUri, f));
        Assert.All(stores, f => Assert.Contains("code:E0000000000", f));
    }

    /// <summary>Waits (bounded) until the gateway's access log satisfies <paramref name="done"/>; returns its lines, each
    /// split into its '|'-separated fields (AccessLog.Format). The log is written in the background.</summary>
    private static async Task<List<string[]>> FlowLinesAsync(TestGateway gateway, Func<List<string[]>, bool> done, string what)
    {
        var text = await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(gateway.AccessLogFile), t => done(Fields(t)), $"{what} in {gateway.Name}'s access log");
        return Fields(text);
    }

    /// <summary>Complete lines only: the writer may have flushed part of a line.</summary>
    private static List<string[]> Fields(string text) =>
        text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('|'))
            .Where(fields => fields.Length > 3)
            .ToList();

    // ---- 2. gRPC client to gRPC service across an HTTP-only hop --------------------------------------------------

    private sealed record HttpHopSites(TestGateway A, TestGateway B, FakeFateServer FateFlow);

    /// <summary>A (9999) reaches party 10000 only through B's HTTP url; B routes its own <c>fateflow</c> and
    /// <c>serving</c> roles to a fake FATE-Flow.</summary>
    private static async Task<HttpHopSites> StartHttpHopAsync(TestCluster cluster)
    {
        var fateflow = await cluster.StartFakeFateAsync("fateflow-b");
        var b = await cluster.StartGatewayAsync("B", Host, RouteJson.Osx(Host, new Route(Host, "fateflow", fateflow.Port), new Route(Host, "serving", fateflow.Port)));
        var a = await cluster.StartGatewayAsync("A", Guest, RouteJson.Osx(Guest, Route.HttpGateway(Host, b.HttpPort)));
        return new HttpHopSites(a, b, fateflow);
    }

    /// <summary>A Packet as FATE-Flow's <c>wrap_proxy_grpc_packet</c> builds it, with a body of <paramref name="bodyBytes"/>.</summary>
    private static Packet FateFlowPacket(string role, int bodyBytes, string jobId = "202611290900000000001") => new()
    {
        Header = new PacketMetadata
        {
            Task = new SiteX.Protocol.Eggroll.Proxy.Task
            {
                TaskId = jobId,
                Model = new Model { Name = "headers", DataKey = """{"initiator-party-id": "9999", "signature": "abc"}""" },
            },
            Src = new Topic { Name = jobId, PartyId = Guest, Role = role, Callback = new SiteX.Protocol.Eggroll.Core.Endpoint { Ip = "127.0.0.1", Port = 9360 } },
            Dst = new Topic { Name = jobId, PartyId = Host, Role = role },
            Command = new Command { Name = "/v2/partner/job/create" },
            Operator = "POST",
            Conf = new Conf { OverallTimeout = 10_000 },
        },
        Body = new Data { Key = "/v2/partner/job/create", Value = ByteString.CopyFrom(Payloads.Make(bodyBytes, bodyBytes)) },
    };

    private static GrpcMetadata FateFlowMetadata(string role, string traceId) => new()
    {
        { "service", role },
        { "src-party-id", Guest },
        { "src-role", "guest" },
        { "dest-party-id", Host },
        { "dest-role", "host" },
        { "x-ptp-trace-id", traceId },
    };

    [Theory]
    [InlineData(0)]
    [InlineData(1024)]
    [InlineData(1024 * 1024)]
    public async Task UnaryCall_FromGrpcClientAtA_CrossesHttpOnlyHop_ToGrpcFateFlowAtB_AndTheReplyComesBack(int bodyBytes)
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartHttpHopAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        var request = FateFlowPacket("fateflow", bodyBytes);
        var traceId = $"hop-unary-{bodyBytes}";

        var reply = await client.unaryCallAsync(request, FateFlowMetadata("fateflow", traceId), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(request.Header.Dst, reply.Header.Src);
        Assert.Equal(request.Header.Src, reply.Header.Dst);
        Assert.Equal(request.Header.Task, reply.Header.Task);
        Assert.Equal(request.Header.Command, reply.Header.Command);
        Assert.Equal(request.Body, reply.Body);
        Assert.Equal(bodyBytes, reply.Body.Value.Length);
        Assert.Equal(1, sites.FateFlow.Service.UnaryCalls);
        Assert.Equal(0, sites.FateFlow.Service.PushCalls);
        var headers = Assert.Single(sites.FateFlow.Service.RequestHeaders);
        Assert.Equal(traceId, headers.GetValue("x-ptp-trace-id"));
        Assert.Equal(Guest, headers.GetValue("x-ptp-source-node-id"));
        Assert.Equal(Host, headers.GetValue("x-ptp-target-node-id"));

        // The hop was HTTP: A sent it to B's url, B took it on its HTTP port as OSX's unary invoke.
        var url = $"http://127.0.0.1:{sites.B.HttpPort}{InvokePath}";
        await FlowLinesAsync(sites.A, lines => lines.Any(f => f[1] == "GRPC" && f.Contains(url)), "the unaryCall relayed to B's HTTP url");
        var atB = await FlowLinesAsync(sites.B, lines => lines.Count > 0, "the unaryCall");
        var line = Assert.Single(atB);
        Assert.Equal("HTTP", line[1]);
        Assert.Contains(UnaryUri, line);
        Assert.Contains(traceId, line);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PtpInvokePush_OverGrpcAtA_CrossesHttpHop_AndIsPoppedAtBByteExact()
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster, httpHop: true);
        var invoker = new PrivateTransferProtocol.PrivateTransferProtocolClient(cluster.Channel(guestGateway));
        var popper = new PrivateTransferTransport.PrivateTransferTransportClient(cluster.Channel(hostGateway));
        var topic = FateMqClient.Topic(Session, "guest", Guest, "host", Host, "invoke");
        var messages = new[] { 0, 1024, 1024 * 1024 + 1 }
            .Select(size => size == 0 ? [] : new PtpMessage { Head = ByteString.CopyFromUtf8($$"""{"message_id": "m{{size}}"}"""), Body = ByteString.CopyFrom(Payloads.Make(size, size)) }.ToByteArray())
            .ToList();

        foreach (var bytes in messages)
        {
            var headers = new GrpcMetadata
            {
                { "x-ptp-target-node-id", Host },
                { "x-ptp-uri", "grpcs://fedai.org" + PushUri },
                { "x-ptp-session-id", Session },
                { "x-ptp-tech-provider-code", "FATE" },
                { "x-ptp-from-node-id", Guest },
                { "x-ptp-trace-id", "hop-invoke" },
            };
            var push = new PushInbound { Topic = topic, Payload = ByteString.CopyFrom(bytes) };
            var reply = await invoker.invokeAsync(new Inbound { Payload = push.ToByteString() }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
            Assert.True(reply.Code == "E0000000000", $"invoke of {bytes.Length} B: {reply.Code} {reply.Message}");
        }

        var session = new GrpcMetadata { { "x-ptp-session-id", Session }, { "x-ptp-tech-provider-code", "FATE" } };
        foreach (var bytes in messages)
        {
            var popped = await popper.popAsync(new PopInbound { Topic = topic, Timeout = 10_000 }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
            Assert.Equal("E0000000000", popped.Code);
            Assert.True(popped.Payload.Span.SequenceEqual(bytes), $"popped {popped.Payload.Length} B, pushed {bytes.Length} B");
        }

        var empty = await popper.peekAsync(new PeekInbound { Topic = topic }, session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.True(empty.Payload.IsEmpty);
        var stores = await FlowLinesAsync(hostGateway, lines => lines.Count(f => f.Contains("MSG_DOWNLOAD")) >= messages.Count, "the invoked pushes stored");
        Assert.All(stores.Where(f => f.Contains("MSG_DOWNLOAD")), f => Assert.Equal("HTTP", f[1]));
        Assert.Equal("E0000000000", (await popper.releaseAsync(new ReleaseInbound(), session, TestCluster.Deadline()).ResponseAsync.DefaultTimeout()).Code);
        Assert.Empty(hostGateway.Queues.Snapshot());
        Assert.Empty(guestGateway.Queues.Snapshot());
        cluster.AssertNoUnexpectedErrors();
    }

    // ---- 3. A stream cannot cross an HTTP hop --------------------------------------------------------------------

    [Fact]
    public async Task PacketPushStream_ToPartyBehindHttpRoute_IsUnimplemented_AndNothingReachesB()
    {
        await using var cluster = new TestCluster(output);
        var sites = await StartHttpHopAsync(cluster);
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(sites.A));
        var packet = FateFlowPacket("serving", 4096);

        using var call = client.push(deadline: TestCluster.Deadline());
        RpcException ex;
        try
        {
            await call.RequestStream.WriteAsync(packet).DefaultTimeout();
            await call.RequestStream.CompleteAsync().DefaultTimeout();
            ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        }
        catch (RpcException early)
        {
            // The gateway may answer before the client finished writing.
            ex = early;
        }

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Contains("HTTP", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(Host, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("unsupported", call.GetTrailers().GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, sites.B.HttpPort, sites.B.GrpcPort, sites.FateFlow.Port);

        // A sentinel unaryCall over the same route reaches B; by then B has logged only that call.
        var sentinel = await client.unaryCallAsync(FateFlowPacket("serving", 16), FateFlowMetadata("serving", "sentinel"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.Equal(Host, sentinel.Header.Src.PartyId);
        var atB = await FlowLinesAsync(sites.B, lines => lines.Count > 0, "the sentinel unaryCall");
        var line = Assert.Single(atB);
        Assert.Contains(UnaryUri, line);
        Assert.Equal(0, sites.FateFlow.Service.PushCalls);
        Assert.Equal(0, sites.FateFlow.Service.PushPackets);
        Assert.Equal(1, sites.FateFlow.Service.UnaryCalls);
        cluster.AssertNoUnexpectedErrors();
    }

    // ---- 4. Failures across the HTTP hop -------------------------------------------------------------------------

    [Fact]
    public async Task HttpHopNotListening_UnaryCallIsUnavailable_AndPushGetsNetError_NamingThePartyOnly()
    {
        await using var cluster = new TestCluster(output);
        var closedPort = ClosedPort();
        var a = await cluster.StartGatewayAsync("A", Guest, RouteJson.Osx(Guest, Route.HttpGateway(Host, closedPort)));
        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(a));

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.unaryCallAsync(FateFlowPacket("fateflow", 1024), FateFlowMetadata("fateflow", "closed"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains(Host, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("next_hop_unreachable", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, closedPort);

        var pusher = new FateMqClient(a.GrpcPort, Session, Guest, "guest");
        var pushed = await pusher.ProduceAsync(Host, FateMqClient.Topic(Session, "guest", Guest, "host", Host, "closed"), "obj", "tag", [1, 2, 3]).DefaultTimeout();
        Assert.Equal("E0000000607", pushed.Code);
        Assert.Contains(Host, pushed.Message, StringComparison.Ordinal);
        Leaks.AssertNone(pushed.Message, closedPort);
        Assert.Empty(a.Queues.Snapshot());
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task RouteToOwnHttpUrl_IsARoutingLoop_PushGets145_UnaryCallGetsFailedPrecondition()
    {
        await using var cluster = new TestCluster(output);
        var a = await cluster.StartGatewayAsync("A", Guest, RouteJson.Osx(Guest));
        var loop = Route.HttpGateway(Host, a.HttpPort);
        var applied = a.WaitForTableAsync(t => t.TryLookup(Host, "default", null, out var match) && match.Group.Endpoints[0].Display == loop.Url);
        a.WriteRouteTable(RouteJson.Osx(Guest, loop));
        await applied.DefaultTimeout();

        var pusher = new FateMqClient(a.GrpcPort, Session, Guest, "guest");
        var pushed = await pusher.ProduceAsync(Host, FateMqClient.Topic(Session, "guest", Guest, "host", Host, "loop"), "obj", "tag", [1, 2, 3]).DefaultTimeout();
        Assert.Equal("145", pushed.Code);
        Assert.Contains("loop", pushed.Message, StringComparison.Ordinal);
        Assert.Contains(Host, pushed.Message, StringComparison.Ordinal);
        Leaks.AssertNone(pushed.Message, a.HttpPort);

        var client = new DataTransferService.DataTransferServiceClient(cluster.Channel(a));
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.unaryCallAsync(FateFlowPacket("fateflow", 1024), FateFlowMetadata("fateflow", "loop"), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains("loop", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("routing_loop", ex.Trailers.GetValue("x-sitex-error"));
        Leaks.AssertNone(ex.Status.Detail, a.HttpPort);
        Assert.Empty(a.Queues.Snapshot());
        cluster.AssertNoUnexpectedErrors();
    }

    /// <summary>A loopback port nothing listens on: a listener's port, closed again.</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    // ---- 5. What SiteX sends a Java OSX HTTP port ----------------------------------------------------------------

    private static async Task<(TestGateway A, FakeOsxHttpPeer Osx, FateMqClient Pusher)> StartWithOsxHttpPeerAsync(TestCluster cluster)
    {
        var osx = await cluster.StartFakeOsxHttpAsync("osx-http-10000");
        var a = await cluster.StartGatewayAsync("A", Guest, RouteJson.Osx(Guest, new Route(Host, "default", 0, osx.InvokeUrl)));
        return (a, osx, new FateMqClient(a.GrpcPort, Session, Guest, "guest"));
    }

    [Fact]
    public async Task GrpcPush_ToJavaOsxHttpPeer_IsOnePostOfNestedBase64Json_WithTheHeadersOsxReads()
    {
        await using var cluster = new TestCluster(output);
        var (a, osx, pusher) = await StartWithOsxHttpPeerAsync(cluster);
        var topic = FateMqClient.Topic(Session, "guest", Guest, "host", Host, "osx");
        var body = Payloads.Make(42, 150_001);

        var reply = await pusher.ProduceAsync(Host, topic, "obj-1", "tag-1", body).DefaultTimeout();

        Assert.Equal(("E0000000000", "success"), (reply.Code, reply.Message));
        var request = Assert.Single(osx.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal(InvokePath, request.Path);
        Assert.Equal("HTTP/1.1", request.Protocol);
        Assert.Equal("application/json;charset=UTF-8", request.Header("content-type"));
        Assert.Equal(PushUri, request.Header("x-ptp-uri"));
        Assert.Equal(Host, request.Header("x-ptp-target-node-id"));
        Assert.Equal(Session, request.Header("x-ptp-session-id"));
        Assert.Equal("FATE", request.Header("x-ptp-tech-provider-code"));
        Assert.Equal(Guest, request.Header("x-ptp-source-node-id")); // the python client sends only x-ptp-from-node-id
        Assert.Matches("^[0-9]+_[0-9]+$", request.Header("x-ptp-trace-id") ?? "");
        var topicHeader = request.Header("x-ptp-topic"); // optional (the client sent none); the body's topic is the one OSX uses
        Assert.True(topicHeader is null || topicHeader == topic, $"x-ptp-topic: {topicHeader}");

        // {"payload": base64(X)}, X = UTF-8 JSON {"topic","payload": base64(message),"msgCode":"","msgFlag":""}
        using var envelope = JsonDocument.Parse(request.Body);
        var outer = Assert.Single(envelope.RootElement.EnumerateObject());
        Assert.Equal("payload", outer.Name);
        var inner = Convert.FromBase64String(outer.Value.GetString()!);
        using var produce = JsonDocument.Parse(Encoding.UTF8.GetString(inner));
        Assert.Equal(["topic", "payload", "msgCode", "msgFlag"], produce.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(topic, produce.RootElement.GetProperty("topic").GetString());
        Assert.Equal("", produce.RootElement.GetProperty("msgCode").GetString());
        Assert.Equal("", produce.RootElement.GetProperty("msgFlag").GetString());
        var pushed = produce.RootElement.GetProperty("payload").GetBytesFromBase64();
        var message = PtpMessage.Parser.ParseFrom(pushed);
        Assert.True(message.Body.Span.SequenceEqual(body), $"the message body ({message.Body.Length} B) differs from the {body.Length} B pushed");
        Assert.Equal(pushed, message.ToByteArray()); // nothing but the message the client built
        using var head = JsonDocument.Parse(message.Head.ToStringUtf8());
        Assert.Equal("obj-1", head.RootElement.GetProperty("message_id").GetString());
        Assert.Empty(a.Queues.Snapshot());
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcPush_JavaOsxHttpPeerAnswersAnErrorCode_PusherSeesThatCodeAndMessage()
    {
        await using var cluster = new TestCluster(output);
        var (_, osx, pusher) = await StartWithOsxHttpPeerAsync(cluster);
        osx.Answer = _ => new FakeHttpAnswer(200, "application/json;charset=UTF-8", """{"code":"130","message":"PARTY_10000:no route"}""");

        var reply = await pusher.ProduceAsync(Host, FateMqClient.Topic(Session, "guest", Guest, "host", Host, "osx"), "obj", "tag", [7, 7, 7]).DefaultTimeout();

        Assert.Equal(("130", "PARTY_10000:no route"), (reply.Code, reply.Message));
        Assert.Single(osx.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task GrpcPush_JavaOsxHttpPeerAnswersHttp500WithoutJson_PusherSeesNetErrorNamingThePartyAndNotTheBody()
    {
        await using var cluster = new TestCluster(output);
        var (_, osx, pusher) = await StartWithOsxHttpPeerAsync(cluster);
        const string secret = "java.lang.NullPointerException at org.fedai.osx.broker.http.DispatchServlet(secret-internal-host:9370)";
        osx.Answer = _ => new FakeHttpAnswer(500, "text/html", $"<html><body><pre>{secret}</pre></body></html>");

        var reply = await pusher.ProduceAsync(Host, FateMqClient.Topic(Session, "guest", Guest, "host", Host, "osx"), "obj", "tag", [7, 7, 7]).DefaultTimeout();

        Assert.Equal("E0000000607", reply.Code);
        Assert.Contains(Host, reply.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("NullPointer", reply.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", reply.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("html", reply.Message, StringComparison.OrdinalIgnoreCase);
        Leaks.AssertNone(reply.Message, osx.Port);
        Assert.Single(osx.Requests);
        cluster.AssertNoUnexpectedErrors();
    }

    // ---- 6. An HTTP client reaching a gRPC OSX -------------------------------------------------------------------

    [Fact]
    public async Task HttpInvokePush_ToGrpcOsxPeer_ArrivesAsSerializedPushInbound_WithEveryPtpHeader()
    {
        await using var cluster = new TestCluster(output);
        var osx = await cluster.StartFakeFateAsync("osx-grpc-10000");
        var a = await cluster.StartGatewayAsync("A", Guest, RouteJson.Osx(Guest, new Route(Host, "default", osx.Port)));
        using var http = new HttpClient();
        var topic = FateMqClient.Topic(Session, "guest", Guest, "host", Host, "http-to-grpc");
        var message = Payloads.Make(6, 70_000);
        var produce = JsonSerializer.SerializeToUtf8Bytes(new { topic, payload = Convert.ToBase64String(message) });
        var sent = new Dictionary<string, string>
        {
            ["x-ptp-target-node-id"] = Host,
            ["x-ptp-uri"] = PushUri,
            ["x-ptp-trace-id"] = "trace-http-to-grpc-1",
            ["x-ptp-session-id"] = Session,
            ["x-ptp-topic"] = topic,
            ["x-ptp-token"] = "token-abc",
            ["x-ptp-source-node-id"] = Guest,
            ["x-ptp-job-id"] = "job-77",
        };

        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{a.HttpPort}{InvokePath}")
        {
            Content = HttpChanClient.Json(JsonSerializer.Serialize(new { payload = Convert.ToBase64String(produce) })),
        };
        foreach (var (name, value) in sent)
        {
            request.Headers.Add(name, value);
        }

        using var response = await http.SendAsync(request).DefaultTimeout();
        var reply = await HttpChanClient.ReadAsync(response).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal(("E0000000000", "success"), (reply.Code, reply.Message));
        var (headers, push) = Assert.Single(osx.Osx.Pushes);
        Assert.Equal(topic, push.Topic);
        Assert.True(push.Payload.Span.SequenceEqual(message), $"the PushInbound payload ({push.Payload.Length} B) differs from the {message.Length} B sent");
        foreach (var (name, value) in sent.Where(h => h.Key != "x-ptp-uri"))
        {
            Assert.True(headers.GetValue(name) == value, $"{name}: sent \"{value}\", the gRPC peer got \"{headers.GetValue(name)}\"");
        }

        Assert.Equal("grpcs://fedai.org" + PushUri, headers.GetValue("x-ptp-uri"));
        Assert.Equal("FATE", headers.GetValue("x-ptp-tech-provider-code")); // HTTP defaults it; a gRPC OSX requires it
        Assert.Empty(a.Queues.Snapshot());
        cluster.AssertNoUnexpectedErrors();
    }
}
