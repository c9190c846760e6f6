using System.Net;
using System.Net.Sockets;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Queues;

/// <summary>
/// A push for a remote party, relayed by gateway A as an <c>invoke</c> to the party's gateway, when that gateway is not
/// there or is not a gateway: the pusher gets a PTP network error that names the party and what went wrong, and
/// nothing internal. With the HTTP/2 relay (the default engine, which makes the call itself) and with YARP's engine
/// (where the call goes through Grpc.Net.Client), alike.
/// </summary>
public sealed class RelayedPushTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ForwardingEngine.H2Relay, false, "SiteX gateway 9999: the next hop for party 10000 is unreachable")]
    [InlineData(ForwardingEngine.Yarp, false, "SiteX gateway 9999: the next hop for party 10000 is unreachable")]
    [InlineData(ForwardingEngine.H2Relay, true, "SiteX gateway 9999: the next hop for party 10000 failed (Unimplemented)")]
    [InlineData(ForwardingEngine.Yarp, true, "SiteX gateway 9999: the next hop for party 10000 failed (Unimplemented)")]
    public async Task APushForAPartyWhoseGatewayIsDownOrIsNotAGateway_IsAnsweredWithANetErrorSayingSo(ForwardingEngine engine, bool nextHopIsAService, string expected)
    {
        await using var cluster = new TestCluster(output) { Engine = engine };
        var port = nextHopIsAService
            ? (await cluster.StartSampleAsync("echo")).Port // a gRPC service without PrivateTransferProtocol
            : ClosedPort();
        var a = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999", new Route("10000", "default", port)));
        var client = new FateMqClient(a.GrpcPort, "relayed-1", "9999", "guest");

        var reply = await client.ProduceAsync("10000", "t", "m1", "tag", [1, 2, 3]).DefaultTimeout();

        Assert.Equal((PtpCodes.NetError, expected), (reply.Code, reply.Message));
    }

    [Theory]
    [InlineData(ForwardingEngine.H2Relay)]
    [InlineData(ForwardingEngine.Yarp)]
    public async Task APushRelayedToThePartysGateway_IsStoredThere_AndItsAnswerComesBack(ForwardingEngine engine)
    {
        await using var cluster = new TestCluster(output) { Engine = engine };
        var (a, b) = await StartSitesAsync(cluster);
        var guest = new FateMqClient(a.GrpcPort, "relayed-3", "9999", "guest");
        var host = new FateMqClient(b.GrpcPort, "relayed-3", "10000", "host");
        var body = new byte[70_000]; // more than one DATA frame and than the first window update
        Random.Shared.NextBytes(body);

        var empty = await guest.ProduceAsync("10000", "t", "m0", "tag", []).DefaultTimeout();
        var reply = await guest.ProduceAsync("10000", "t", "m1", "tag", body).DefaultTimeout();
        var (first, _, _) = await host.ConsumeAsync("t").DefaultTimeout();
        var (second, _, _) = await host.ConsumeAsync("t").DefaultTimeout();

        Assert.Equal((PtpCodes.Success, PtpCodes.Success), (empty.Code, reply.Code));
        Assert.Empty(first.Body.ToByteArray());
        Assert.Equal(body, second.Body.ToByteArray());
    }

    /// <summary>A relayed push's bytes go back to gateway A's buffer pool once the HTTP/2 relay returned: concurrent
    /// pushes, each reusing buffers the others gave back, must all arrive exactly as sent.</summary>
    [Theory]
    [InlineData(ForwardingEngine.H2Relay)]
    [InlineData(ForwardingEngine.Yarp)]
    public async Task ConcurrentRelayedPushes_ReusingPooledBuffers_AllArriveIntact(ForwardingEngine engine)
    {
        await using var cluster = new TestCluster(output) { Engine = engine };
        var (a, b) = await StartSitesAsync(cluster);
        const int Topics = 8, PerTopic = 8;
        var bodies = Enumerable.Range(0, Topics * PerTopic).Select(i =>
        {
            var body = new byte[100_000 + (i * 1000)];
            new Random(i).NextBytes(body);
            return body;
        }).ToArray();

        await Task.WhenAll(Enumerable.Range(0, Topics).Select(async t =>
        {
            var guest = new FateMqClient(a.GrpcPort, "relayed-4", "9999", "guest");
            for (var i = 0; i < PerTopic; i++)
            {
                var reply = await guest.ProduceAsync("10000", $"t{t}", $"m{i}", "tag", bodies[(t * PerTopic) + i]);
                Assert.Equal(PtpCodes.Success, reply.Code);
            }
        })).DefaultTimeout();

        var host = new FateMqClient(b.GrpcPort, "relayed-4", "10000", "host");
        for (var t = 0; t < Topics; t++)
        {
            for (var i = 0; i < PerTopic; i++)
            {
                var (message, _, _) = await host.ConsumeAsync($"t{t}").DefaultTimeout();
                Assert.True(bodies[(t * PerTopic) + i].AsSpan().SequenceEqual(message.Body.Span), $"message {i} of topic t{t} arrived changed");
            }
        }
    }

    /// <summary>Site B (10000) with its queue, and site A (9999) routing party 10000 to B's gRPC port.</summary>
    private static async Task<(TestGateway A, TestGateway B)> StartSitesAsync(TestCluster cluster)
    {
        var b = await cluster.StartGatewayAsync("B", "10000", RouteJson.Osx("10000"));
        var a = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999", new Route("10000", "default", b.GrpcPort)));
        return (a, b);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when disposed: nothing listens there
    }
}
