using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>Every gRPC call shape and behaviour, from a client at site A to the Echo service behind gateway B.</summary>
/// <remarks>Runs with the default forwarding engine (the HTTP/2 relay); <see cref="YarpCallShapeTests"/> runs every
/// case again on YARP.</remarks>
public class CallShapeTests(ITestOutputHelper output)
{
    /// <summary>The forwarding engine of the gateways; null: the default.</summary>
    protected virtual SiteX.Server.Configuration.ForwardingEngine? Engine => null;

    /// <summary>What serves HTTP/2 on the gateways' gRPC ports; null: the default.</summary>
    protected virtual SiteX.Server.Configuration.Http2ServerEngine? Http2Server => null;

    private TestCluster NewCluster() => new(output) { Engine = Engine, Http2Server = Http2Server };

    private static readonly Metadata s_toEcho = TestCluster.Target(TwoSites.PartyB, "echo");

    [Fact]
    public async Task Unary_AcrossTwoGateways_ReachesServiceBehindPeer()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var reply = await client.UnaryAsync(new EchoRequest { Text = "hello", Payload = ByteString.CopyFromUtf8("abc") }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal("hello", reply.Text);
        Assert.Equal("abc", reply.Payload.ToStringUtf8());
        Assert.Equal("echo-b", reply.ServedBy);
        Assert.Equal(1, sites.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ClientStreaming_AcrossTwoGateways_DeliversEveryMessage()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        using var call = client.ClientStream(s_toEcho, TestCluster.Deadline());
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture), Payload = ByteString.CopyFrom(new byte[100]) }).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var reply = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(10, reply.Count);
        Assert.Equal("0123456789", reply.Text);
        Assert.Equal(1000, reply.PayloadLength);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ServerStreaming_AcrossTwoGateways_DeliversEveryReplyInOrder()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        using var call = client.ServerStream(new EchoRequest { Text = "s", Repeat = 5 }, s_toEcho, TestCluster.Deadline());
        var counts = new List<int>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            counts.Add(call.ResponseStream.Current.Count);
        }

        Assert.Equal([1, 2, 3, 4, 5], counts);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Duplex_PingPongAcrossTwoGateways_EachReplyArrivesBeforeTheNextRequest()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        using var call = client.Duplex(s_toEcho, TestCluster.Deadline());
        for (var i = 1; i <= 20; i++)
        {
            // The next request is sent only after this one's reply came back: a gateway that buffered either
            // direction would hang here.
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"ping {i}" }).DefaultTimeout();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal($"ping {i}", call.ResponseStream.Current.Text);
            Assert.Equal(i, call.ResponseStream.Current.Count);
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Metadata_AcrossTwoGateways_RequestHeadersArriveAndResponseHeadersAndTrailersReturn()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var headers = TestCluster.Target(TwoSites.PartyB, "echo");
        headers.Add("x-app-trace", "trace-42");
        headers.Add("x-app-bin", [1, 2, 3]);

        using var call = client.UnaryAsync(new EchoRequest { Text = "m", EchoMetadata = true }, headers, TestCluster.Deadline());
        var responseHeaders = await call.ResponseHeadersAsync.DefaultTimeout();
        var reply = await call.ResponseAsync.DefaultTimeout();
        var trailers = call.GetTrailers();

        Assert.Equal("trace-42", reply.Metadata["x-app-trace"]);
        Assert.Equal(Convert.ToBase64String([1, 2, 3]), reply.Metadata["x-app-bin"]);
        Assert.Equal(TwoSites.PartyB, reply.Metadata["x-ptp-target-node-id"]);
        Assert.Equal("1", responseHeaders.GetValue("x-echo-header"));
        Assert.Equal("done", trailers.GetValue("x-echo-trailer"));
        cluster.AssertNoUnexpectedErrors();
    }

    /// <summary>SiteX's server keeps a finished call's header dictionaries and header strings for the next calls of the
    /// connection: nothing of one call may show in another's request headers, response headers or trailers.</summary>
    [Fact]
    public async Task Metadata_OfManyCallsOnOneConnection_StaysWithItsOwnCall()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        async Task CallAsync(int i)
        {
            var headers = TestCluster.Target(TwoSites.PartyB, "echo");
            headers.Add("x-app-call", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (i % 2 == 0)
            {
                headers.Add("x-app-even", "even-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            using var call = client.UnaryAsync(new EchoRequest { Text = "m", EchoMetadata = true }, headers, TestCluster.Deadline());
            var responseHeaders = await call.ResponseHeadersAsync.DefaultTimeout();
            var reply = await call.ResponseAsync.DefaultTimeout();
            var trailers = call.GetTrailers();

            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Metadata["x-app-call"]);
            if (i % 2 == 0)
            {
                Assert.Equal("even-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Metadata["x-app-even"]);
            }
            else
            {
                Assert.False(reply.Metadata.TryGetValue("x-app-even", out var leaked), $"call {i} got another call's header x-app-even: {leaked}");
            }

            Assert.Equal(["1"], responseHeaders.Where(h => h.Key == "x-echo-header").Select(h => h.Value));
            Assert.Equal(["done"], trailers.Where(h => h.Key == "x-echo-trailer").Select(h => h.Value));
        }

        for (var round = 0; round < 8; round++)
        {
            await Task.WhenAll(Enumerable.Range(round * 8, 8).Select(CallAsync)).DefaultTimeout();
        }

        Assert.Equal(64, sites.Echo.Observer.CallsCompleted);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ErrorStatus_FromService_ComesBackUnchanged()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        var unary = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync(new EchoRequest { FailWithStatus = (int)StatusCode.NotFound, FailMessage = "thing missing" }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, unary.StatusCode);
        Assert.Equal("thing missing", unary.Status.Detail);
        Assert.Null(unary.Trailers.GetValue("x-sitex-error"));

        // The same after replies were streamed: the status arrives in real trailers, not a trailers-only response.
        using var stream = client.ServerStream(new EchoRequest { Repeat = 2, FailWithStatus = (int)StatusCode.PermissionDenied, FailMessage = "not yours" }, s_toEcho, TestCluster.Deadline());
        var received = 0;
        var streamed = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                received++;
            }
        });
        Assert.Equal(2, received);
        Assert.Equal(StatusCode.PermissionDenied, streamed.StatusCode);
        Assert.Equal("not yours", streamed.Status.Detail);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Deadline_ShorterThanServiceDelay_FailsAndServiceObservesCancellation()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        // Warm up first, so that the call surely reaches the service before its deadline (a cold process spends
        // hundreds of milliseconds on JIT and connecting).
        await client.UnaryAsync(new EchoRequest(), s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        var started = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync(new EchoRequest { DelayMs = 20_000 }, s_toEcho, DateTime.UtcNow.AddMilliseconds(1500)).ResponseAsync.DefaultTimeout());

        // Deadline races: the client's own timer and the gateways' enforcement fire together (stack-notes.md).
        Assert.Contains(ex.StatusCode, new[] { StatusCode.DeadlineExceeded, StatusCode.Cancelled });
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"the call took {started.Elapsed}");
        await sites.Echo.Observer.CancellationObserved.DefaultTimeout();
        Assert.Equal(1, sites.Echo.Observer.CancellationsObserved);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Deadline_ExpiringMidStream_FailsAfterTheRepliesSoFarAndServiceObservesCancellation()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);

        // Warm up first: on a cold process the first streamed reply can take over a second (JIT).
        using (var warmUp = client.ServerStream(new EchoRequest { Repeat = 1 }, s_toEcho, TestCluster.Deadline()))
        {
            Assert.True(await warmUp.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.False(await warmUp.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        }

        using var call = client.ServerStream(new EchoRequest { Repeat = 100, DelayMs = 100 }, s_toEcho, DateTime.UtcNow.AddMilliseconds(2500));
        var received = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                received++;
            }
        });

        output.WriteLine($"after {received} replies: {ex.StatusCode} \"{ex.Status.Detail}\"");
        Assert.Contains(ex.StatusCode, new[] { StatusCode.DeadlineExceeded, StatusCode.Cancelled });
        Assert.InRange(received, 1, 99);
        await sites.Echo.Observer.CancellationObserved.DefaultTimeout();
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task ClientCancellation_AcrossTwoGateways_PropagatesToService()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        using var cts = new CancellationTokenSource();

        var call = client.UnaryAsync(new EchoRequest { WaitForCancel = true }, s_toEcho, TestCluster.Deadline(), cts.Token);
        await sites.Echo.Observer.WaitingForCancel.DefaultTimeout();
        cts.Cancel();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        await sites.Echo.Observer.CancellationObserved.DefaultTimeout();
        call.Dispose();
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Compression_GzipRequest_PassesThroughBothGateways()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var headers = TestCluster.Target(TwoSites.PartyB, "echo");
        headers.Add("grpc-internal-encoding-request", "gzip");
        var payload = ByteString.CopyFromUtf8(string.Concat(Enumerable.Repeat("compressible text ", 10_000)));

        var reply = await client.UnaryAsync(new EchoRequest { Text = "z", Payload = payload }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Assert.Equal(payload, reply.Payload);
        Assert.Equal(payload.Length, reply.PayloadLength);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task LargeMessage_64MiBUnary_PassesThroughBothGateways()
    {
        await using var cluster = NewCluster();
        var sites = await TwoSites.StartAsync(cluster);
        var client = cluster.EchoClient(sites.A);
        var payload = new byte[64 * 1024 * 1024];
        Random.Shared.NextBytes(payload);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var reply = await client.UnaryAsync(new EchoRequest { Text = "length-only", Payload = UnsafeByteOperations.UnsafeWrap(payload) }, s_toEcho, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        output.WriteLine($"64 MiB unary through two gateways: {started.ElapsedMilliseconds} ms");

        Assert.Equal(payload.Length, reply.PayloadLength);
        Assert.True(reply.Payload.IsEmpty);
        cluster.AssertNoUnexpectedErrors();
    }
}
