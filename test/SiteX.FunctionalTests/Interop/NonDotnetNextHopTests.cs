using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using SiteX.Server.Configuration;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Interop;

/// <summary>
/// A gateway forwards to a service behind a real nginx (<c>grpc_pass</c>) or haproxy (HTTP/2 both sides): HTTP/2
/// implementations that are not .NET's, with their own SETTINGS, flow-control windows and HPACK encoders (nginx
/// Huffman-codes header values). Every call shape must come back intact through them, on both forwarding engines
/// (YARP over SocketsHttpHandler, and SiteX's own HTTP/2 relay with its own HPACK decoder).
/// </summary>
public sealed class NonDotnetNextHopTests(ITestOutputHelper output)
{
    private const string Party = "10000";
    private static readonly Metadata s_toEcho = TestCluster.Target(Party, "echo");

    public static TheoryData<string, ForwardingEngine> Proxies => new()
    {
        { "nginx", ForwardingEngine.Yarp },
        { "nginx", ForwardingEngine.H2Relay },
        { "haproxy", ForwardingEngine.Yarp },
        { "haproxy", ForwardingEngine.H2Relay },
    };

    [SkippableTheory]
    [MemberData(nameof(Proxies))]
    public async Task EveryCallShape_ThroughProxy_ArrivesIntact(string proxyName, ForwardingEngine engine)
    {
        // Arrange: gateway 9999 (forwarding with `engine`) -> proxy -> Echo sample.
        PeerProxy.SkipUnlessInstalled(proxyName);
        await using var cluster = new TestCluster(output) { Engine = engine };
        var echo = await cluster.StartSampleAsync("echo-behind-" + proxyName);
        await using var proxy = await PeerProxy.StartAsync(proxyName, echo.Port, cluster.Temp.Path);
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999", new Route(Party, "echo", proxy.Port)));
        var client = cluster.EchoClient(gateway);
        var bytes = new byte[1024 * 1024 + 17];
        BulkData.Fill(bytes, 0);
        var big = ByteString.CopyFrom(bytes);

        // Act and assert: unary, small and 1 MiB (beyond nginx's and haproxy's initial windows and frame sizes).
        var small = await client.UnaryAsync(new EchoRequest { Text = "hello", Payload = ByteString.CopyFromUtf8("abc") }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.Equal(("hello", "abc"), (small.Text, small.Payload.ToStringUtf8()));
        var large = await client.UnaryAsync(new EchoRequest { Payload = big }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        Assert.Equal(big, large.Payload);

        // Response headers and trailers the service sets come through the proxy and the gateway.
        using (var withMetadata = client.UnaryAsync(new EchoRequest { Text = "m", EchoMetadata = true }, s_toEcho, TestCluster.Deadline()))
        {
            var headers = await withMetadata.ResponseHeadersAsync.DefaultTimeout();
            await withMetadata.ResponseAsync.DefaultTimeout();
            Assert.Equal("1", headers.GetValue("x-echo-header"));
            Assert.Equal("done", withMetadata.GetTrailers().GetValue("x-echo-trailer"));
        }

        // A service's error status and message.
        var failure = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new EchoRequest { FailWithStatus = (int)StatusCode.NotFound, FailMessage = "no such model" }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal((StatusCode.NotFound, "no such model"), (failure.StatusCode, failure.Status.Detail));

        // Server and client streaming.
        using (var stream = client.ServerStream(new EchoRequest { Text = "s", Repeat = 5 }, s_toEcho, TestCluster.Deadline()))
        {
            var counts = new List<int>();
            while (await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                counts.Add(stream.ResponseStream.Current.Count);
            }

            Assert.Equal([1, 2, 3, 4, 5], counts);
        }

        using (var upload = client.ClientStream(s_toEcho, TestCluster.Deadline()))
        {
            for (var i = 0; i < 4; i++)
            {
                await upload.RequestStream.WriteAsync(new EchoRequest { Payload = big }).DefaultTimeout();
            }

            await upload.RequestStream.CompleteAsync().DefaultTimeout();
            var reply = await upload.ResponseAsync.DefaultTimeout();
            Assert.Equal((4, 4L * big.Length), (reply.Count, reply.PayloadLength));
        }

        // Many calls at once on the gateway's connection to the proxy.
        var calls = Enumerable.Range(0, 64).Select(i => client.UnaryAsync(new EchoRequest { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, s_toEcho, TestCluster.Deadline()).ResponseAsync);
        var replies = await Task.WhenAll(calls).DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, 64).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), replies.Select(r => r.Text));
        cluster.AssertNoUnexpectedErrors();
    }
}
