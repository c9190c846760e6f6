using System.Net;
using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Http;

/// <summary>
/// FATE queue mode over the HTTP/1.1 interconnection port: a guest at 9999 and a host at 10000 push to their own
/// gateway for the other party (relayed gateway to gateway) and pop at their own gateway.
/// </summary>
public sealed class HttpQueueRoundTripTests(ITestOutputHelper output)
{
    private const string Session = "202611281800000000001_http_toy_0_0";
    private const int Count = 200;

    /// <summary>HTTP clients at both sites; the gateways reach each other over gRPC or, with <paramref name="httpHop"/>,
    /// through each other's HTTP port (every byte of the exchange then travels as interconnection JSON).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GuestAndHost_Exchange200MessagesEachWayOverHttp_InOrderByteExact_AndReleaseLeavesNothing(bool httpHop)
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster, httpHop);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var guest = new HttpChanClient(http, guestGateway.HttpPort, Session, "9999");
        var host = new HttpChanClient(http, hostGateway.HttpPort, Session, "10000");
        var guestToHost = FateMqClient.Topic(Session, "guest", "9999", "host", "10000", "data");
        var hostToGuest = FateMqClient.Topic(Session, "host", "10000", "guest", "9999", "data");

        await Task.WhenAll(
            SendAsync(guest, "10000", guestToHost, seed: 1),
            SendAsync(host, "9999", hostToGuest, seed: 2),
            ReceiveAsync(host, guestToHost, seed: 1),
            ReceiveAsync(guest, hostToGuest, seed: 2)).DefaultTimeout(TimeSpan.FromMinutes(3));

        var released = await guest.ReleaseAsync();
        Assert.Equal(HttpStatusCode.OK, released.Status);
        Assert.Equal("E0000000000", released.Code);
        Assert.Equal("success", released.Message);
        Assert.Contains("\"message\"", released.Raw, StringComparison.Ordinal);
        Assert.Equal("E0000000000", (await host.ReleaseAsync()).Code);
        foreach (var gateway in new[] { guestGateway, hostGateway })
        {
            Assert.Empty(gateway.Queues.Snapshot());
            await QueueSites.WaitForStoreToEmptyAsync(gateway);
        }

        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task PushOverHttp_PopOverGrpc_AndPushOverGrpc_PopOverHttp_CarryTheSameBytes()
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster);
        using var http = new HttpClient();
        var guestHttp = new HttpChanClient(http, guestGateway.HttpPort, Session, "9999");
        var hostHttp = new HttpChanClient(http, hostGateway.HttpPort, Session, "10000");
        var guestGrpc = new FateMqClient(guestGateway.GrpcPort, Session, "9999", "guest");
        var hostGrpc = new FateMqClient(hostGateway.GrpcPort, Session, "10000", "host");
        var topic = FateMqClient.Topic(Session, "guest", "9999", "host", "10000", "mixed");
        var back = FateMqClient.Topic(Session, "host", "10000", "guest", "9999", "mixed");

        for (var i = 0; i < 20; i++)
        {
            var body = Payloads.Make(7_000 + i, SizeOf(i * 13));
            Assert.Equal("E0000000000", (await guestHttp.ProduceAsync("10000", topic, $"obj-{i}", $"tag-{i}", body)).Code);
            var (message, properties, _) = await hostGrpc.ConsumeAsync(topic, 10_000);
            Assert.Equal($"obj-{i}", properties["message_id"]);
            Assert.True(message.Body.Span.SequenceEqual(body));

            Assert.Equal("E0000000000", (await hostGrpc.ProduceAsync("9999", back, $"obj-{i}", $"tag-{i}", body)).Code);
            var (reply, replyProperties, raw) = await guestHttp.ConsumeAsync(back, 10_000);
            Assert.Equal(HttpStatusCode.OK, raw.Status);
            Assert.Equal($"tag-{i}", replyProperties["correlation_id"]);
            Assert.True(reply.Body.Span.SequenceEqual(body));
        }

        Assert.Equal("E0000000000", (await guestGrpc.ReleaseAsync()).Code);
        Assert.Equal("E0000000000", (await hostHttp.ReleaseAsync()).Code);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ImmediateAndWaitedPops_BothCarrySingleBase64_AndPeekDoesToo()
    {
        await using var cluster = new TestCluster(output);
        var gateway = await cluster.StartGatewayAsync("solo-9999", "9999", RouteJson.Osx("9999"));
        using var http = new HttpClient();
        var client = new HttpChanClient(http, gateway.HttpPort, Session, "9999");
        byte[] first = [1, 2, 3, 250];
        byte[] second = [9, 8, 7];

        Assert.Equal("E0000000000", (await client.PushAsync("9999", "t", first)).Code);
        var peeked = await client.PeekAsync("t");
        Assert.Equal(first, peeked.Payload);
        var immediate = await client.PopAsync("t", 1000);
        Assert.Equal(first, immediate.Payload); // OSX sends base64(base64(bytes)) here

        var waiting = client.PopAsync("t", 10_000);
        await Task.Delay(200);
        Assert.Equal("E0000000000", (await client.PushAsync("9999", "t", second)).Code);
        var waited = await waiting;
        Assert.Equal(second, waited.Payload);
        Assert.Equal("success", waited.Message);

        var timedOut = await client.PopAsync("t", 50);
        Assert.Equal(HttpStatusCode.OK, timedOut.Status);
        Assert.Equal("E0000000601", timedOut.Code);
        Assert.Null(timedOut.Payload);
        cluster.AssertNoUnexpectedErrors();
    }

    private static async Task SendAsync(HttpChanClient from, string peer, string topic, int seed)
    {
        for (var i = 0; i < Count; i++)
        {
            var reply = await from.ProduceAsync(peer, topic, $"obj-{i}", $"tag-{i}", Payloads.Make(seed * 100_000 + i, SizeOf(i)));
            Assert.True(reply.Status == HttpStatusCode.OK && reply.Code == "E0000000000", $"push {i} to {peer}: {reply.Status} {reply.Raw}");
        }
    }

    private static async Task ReceiveAsync(HttpChanClient at, string topic, int seed)
    {
        for (var i = 0; i < Count; i++)
        {
            var (message, properties, raw) = await at.ConsumeAsync(topic);
            Assert.True(raw.Code == "E0000000000", $"pop {i}: {raw.Raw}");
            Assert.Equal($"obj-{i}", properties["message_id"]);
            Assert.Equal($"tag-{i}", properties["correlation_id"]);
            var expected = Payloads.Make(seed * 100_000 + i, SizeOf(i));
            Assert.True(message.Body.Span.SequenceEqual(expected), $"message {i} on {topic}: {message.Body.Length} bytes differ from the {expected.Length} sent");
        }
    }

    /// <summary>0 B to 1 MiB: mostly small, every 25th 1 MiB.</summary>
    internal static int SizeOf(int i) => i switch
    {
        0 => 0,
        _ when i % 25 == 24 => 1024 * 1024,
        _ => (i * 7919) % 65_536,
    };
}
