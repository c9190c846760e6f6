using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol.Ptp;
using Metadata = Grpc.Core.Metadata;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Queues;

/// <summary>
/// One regression test per OSX queue defect (lessons.md Part A), on a real gateway over real gRPC.
/// </summary>
public sealed class QueueSemanticsTests(ITestOutputHelper output)
{
    private const string Session = "session-1";

    [Fact]
    public async Task Pop_ParkedThenSessionReleased_IsAnsweredWithAClearCode()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        var parked = ParkedPopAsync(gateway, client, "t1");
        await WaitForParkedPopsAsync(gateway, 1);

        Assert.Equal("E0000000000", (await client.ReleaseAsync()).Code);
        var answer = await parked.DefaultTimeout();

        Assert.Equal("138", answer.Code);
        Assert.Contains("released while the pop waited", answer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pop_ParkedThenTopicReleased_IsAnsweredAndOtherTopicsStay()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        Assert.Equal("E0000000000", (await client.ProduceAsync("9999", "keep", "m", "t", [1, 2, 3])).Code);
        var parked = ParkedPopAsync(gateway, client, "gone");
        await WaitForParkedPopsAsync(gateway, 1);

        await client.ReleaseAsync("gone");

        Assert.Equal("138", (await parked.DefaultTimeout()).Code);
        var (message, _, _) = await client.ConsumeAsync("keep").DefaultTimeout();
        Assert.Equal([1, 2, 3], message.Body.ToByteArray());
    }

    [Fact]
    public async Task Peek_Twice_DoesNotConsume()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        await client.ProduceAsync("9999", "t", "first", "x", [7]);

        var peek1 = await client.PeekAsync("t").DefaultTimeout();
        var peek2 = await client.PeekAsync("t").DefaultTimeout();
        var (popped, properties, _) = await client.ConsumeAsync("t").DefaultTimeout();
        var empty = await client.PeekAsync("t").DefaultTimeout();

        Assert.Equal(peek1.Payload, peek2.Payload);
        Assert.Equal("first", properties["message_id"]);
        Assert.Equal(Message.Parser.ParseFrom(peek1.Payload).Body, popped.Body);
        Assert.Equal("E0000000000", empty.Code);
        Assert.True(empty.Payload.IsEmpty);
    }

    [Fact]
    public async Task Pop_CallerCancelsWhileParked_MessagePushedAfterwardsGoesToTheNextPop()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        using var cancel = new CancellationTokenSource();
        var abandoned = client.ConsumeAsync("t", cancellationToken: cancel.Token);
        await WaitForParkedPopsAsync(gateway, 1);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<RpcException>(() => abandoned).DefaultTimeout();
        await WaitForParkedPopsAsync(gateway, 0);
        await client.ProduceAsync("9999", "t", "kept", "x", [42]);
        var (message, properties, _) = await client.ConsumeAsync("t").DefaultTimeout();

        Assert.Equal("kept", properties["message_id"]);
        Assert.Equal([42], message.Body.ToByteArray());
    }

    [Fact]
    public async Task Push_SameMessageIdTwice_IsStoredOnce()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.GrpcPort}");
        var client = new PrivateTransferTransport.PrivateTransferTransportClient(channel);
        var headers = new Metadata { { "x-ptp-session-id", Session }, { "x-ptp-target-node-id", "9999" }, { "x-ptp-tech-provider-code", "FATE" } };
        var push = new PushInbound { Topic = "t", Payload = new Message { MsgId = "m-1", Body = ByteString.CopyFromUtf8("once") }.ToByteString() };

        var first = await client.pushAsync(push, headers).ResponseAsync.DefaultTimeout();
        var retry = await client.pushAsync(push, headers).ResponseAsync.DefaultTimeout();
        var other = await client.pushAsync(new PushInbound { Topic = "t", Payload = ByteString.CopyFromUtf8("plain"), Metadata = { ["msgId"] = "m-2" } }, headers).ResponseAsync.DefaultTimeout();

        Assert.Equal(("E0000000000", "E0000000000", "E0000000000"), (first.Code, retry.Code, other.Code));
        var topic = Assert.Single(Assert.Single(gateway.Queues.Snapshot()).Topics);
        Assert.Equal(2, topic.Depth);
    }

    [Fact]
    public async Task Pop_ShortTimeout_AnswersTimeoutCode()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");

        var ex = await Assert.ThrowsAsync<LookupException>(() => client.ConsumeAsync("t", timeoutMs: 200)).DefaultTimeout();

        Assert.Equal("CONSUME_MSG_TIMEOUT", ex.Message);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("..\\..\\windows")]
    [InlineData("nul\0byte")]
    [InlineData("")]
    public async Task Push_HostileTopic_IsRefusedWithParameterErrorAndTouchesNoFile(string topic)
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        var before = Directory.GetFileSystemEntries(cluster.Temp.Path, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/queues/", StringComparison.Ordinal) && !f.EndsWith(".log", StringComparison.Ordinal)).Order().ToList();

        var reply = await client.ProduceAsync("9999", topic, "m", "t", [1]).DefaultTimeout();

        Assert.Equal("E0000000400", reply.Code);
        Assert.Contains("topic", reply.Message, StringComparison.Ordinal);
        var after = Directory.GetFileSystemEntries(cluster.Temp.Path, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/queues/", StringComparison.Ordinal) && !f.EndsWith(".log", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(before, after);
        Assert.False(File.Exists(Path.Combine(cluster.Temp.Path, "x")));
        Assert.Empty(gateway.Queues.Snapshot().SelectMany(s => s.Topics));
    }

    [Fact]
    public async Task Push_TenKilobyteSessionId_IsRefused()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, new string('s', 10 * 1024), "9999", "host");

        var reply = await client.ProduceAsync("9999", "t", "m", "t", [1]).DefaultTimeout();

        Assert.Equal("E0000000400", reply.Code);
        Assert.Contains("the limit is 512", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_PopUriFromPeer_IsRefusedNotHung()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.GrpcPort}");
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(channel);
        var headers = new Metadata
        {
            { "x-ptp-session-id", Session }, { "x-ptp-target-node-id", "9999" }, { "x-ptp-tech-provider-code", "FATE" },
            { "x-ptp-uri", "grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/pop" },
        };

        var reply = await client.invokeAsync(new Inbound { Payload = new PopInbound { Topic = "t" }.ToByteString() }, headers).ResponseAsync.DefaultTimeout();

        Assert.Equal("E0000000400", reply.Code);
        Assert.Contains("cannot be invoked by a peer", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pop_TooManyParked_ExtraPopIsRefused()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"), configure: o => o.Queues.MaxParkedPopsPerSession = 2);
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");
        var parked = new[] { ParkedPopAsync(gateway, client, "a"), ParkedPopAsync(gateway, client, "b") };
        await WaitForParkedPopsAsync(gateway, 2);

        var refused = await RawPopAsync(gateway, "c", 60_000).DefaultTimeout();

        Assert.Equal("E0000000500", refused.Code);
        Assert.Contains("waiting pops, the limit is 2", refused.Message, StringComparison.Ordinal);
        await client.ReleaseAsync();
        Assert.All(await Task.WhenAll(parked).DefaultTimeout(), r => Assert.Equal("138", r.Code));
    }

    [Fact]
    public async Task Push_ThroughBothGateways_WakesParkedPop()
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster);
        var guest = new FateMqClient(guestGateway.GrpcPort, Session, "9999", "guest");
        var host = new FateMqClient(hostGateway.GrpcPort, Session, "10000", "host");
        var parked = host.ConsumeAsync("g2h");
        await WaitForParkedPopsAsync(hostGateway, 1);

        var push = await guest.ProduceAsync("10000", "g2h", "hello", "1", [9, 9]).DefaultTimeout();
        var (message, _, raw) = await parked.DefaultTimeout();

        Assert.Equal("E0000000000", push.Code);
        Assert.Equal("success", raw.Message); // answered after waiting, as OSX does
        Assert.Equal([9, 9], message.Body.ToByteArray());
        Assert.Empty(guestGateway.Queues.Snapshot());

        // Operators see it: OSX's action names in flow.log, and the queue metrics.
        var guestLog = await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(guestGateway.AccessLogFile), t => t.Contains("|MSG_REDIRECT|", StringComparison.Ordinal), "relay line at the guest");
        var hostLog = await Eventually.ReturnsAsync(() => SharedFile.ReadAsync(hostGateway.AccessLogFile),
            t => t.Contains("|MSG_DOWNLOAD|", StringComparison.Ordinal) && t.Contains("|LONG_PULLING_ANSWER|", StringComparison.Ordinal), "store and pop lines at the host");
        Assert.Contains($"|session:{Session}|topic:g2h|", guestLog, StringComparison.Ordinal);
        Assert.Contains("|des:10000|code:E0000000000|", hostLog, StringComparison.Ordinal);
        using var http = new System.Net.Http.HttpClient();
        var metrics = await Eventually.ReturnsAsync(() => http.GetStringAsync($"http://127.0.0.1:{hostGateway.AdminPort}/metrics"),
            t => MetricValue(t, "sitex_queue_popped_total") == "1", "queue metrics at the host");
        Assert.Equal("1", MetricValue(metrics, "sitex_queue_pushed_total"));
        Assert.Equal("0", MetricValue(metrics, "sitex_queue_depth"));
    }

    private static string? MetricValue(string metrics, string name) =>
        metrics.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))?.TrimEnd().Split(' ')[^1];

    [Fact]
    public async Task Push_ToUnknownParty_AnswersNoRouteCode()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "guest");

        var reply = await client.ProduceAsync("424242", "t", "m", "t", [1]).DefaultTimeout();

        Assert.Equal("130", reply.Code);
        Assert.Contains("no route to party 424242", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preallocation_Off_SegmentsHoldOnlyWhatWasWritten()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"), configure: o => o.Queues.Preallocation = SiteX.Server.Queues.SegmentPreallocation.Off);
        var client = new FateMqClient(gateway.GrpcPort, Session, "9999", "host");

        Assert.Equal("E0000000000", (await client.ProduceAsync("9999", "t", "m", "t", new byte[1000]).DefaultTimeout()).Code);

        var files = Directory.GetFiles(Path.Combine(cluster.Temp.Path, "A", "queues"));
        Assert.DoesNotContain(files, f => f.EndsWith(".spare", StringComparison.Ordinal));
        var segment = Assert.Single(files, f => f.EndsWith(".seg", StringComparison.Ordinal));
        Assert.InRange(new FileInfo(segment).Length, 1000, 64 * 1024);
        Assert.Equal(gateway.QueueStoreRecordBytes, new FileInfo(segment).Length);
    }

    private static async Task<TransportOutbound> ParkedPopAsync(TestGateway gateway, FateMqClient client, string topic)
    {
        await Task.Yield();
        return await RawPopAsync(gateway, topic, FateMqClient.FatePopTimeoutMs);
    }

    private static async Task<TransportOutbound> RawPopAsync(TestGateway gateway, string topic, int timeoutMs)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.GrpcPort}");
        var headers = new Metadata { { "x-ptp-session-id", Session }, { "x-ptp-from-node-id", "9999" }, { "x-ptp-tech-provider-code", "FATE" } };
        return await new PrivateTransferTransport.PrivateTransferTransportClient(channel).popAsync(new PopInbound { Topic = topic, Timeout = timeoutMs }, headers);
    }

    private static Task<int> WaitForParkedPopsAsync(TestGateway gateway, int count) =>
        Eventually.ReturnsAsync(() => Task.FromResult(gateway.Queues.Snapshot().Sum(s => s.WaitingPops)), n => n == count, $"{count} parked pop(s)");
}
