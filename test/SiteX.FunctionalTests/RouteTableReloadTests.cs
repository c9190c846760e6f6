using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

/// <summary>Editing gateway A's route table while it serves: under load, with a broken edit, and how fast it applies.</summary>
public sealed class RouteTableReloadTests(ITestOutputHelper output)
{
    private const int RouteTableRejectedEventId = 1001;

    /// <summary>Two equivalent peers for party 10000: B1 with sample echo-1 and B2 with sample echo-2.</summary>
    private sealed record TwoPeers(TestGateway A, TestGateway B1, TestGateway B2)
    {
        public static string TableTo(TestGateway peer) => RouteJson.Osx(TwoSites.PartyA, new Route(TwoSites.PartyB, "default", peer.GrpcPort));

        public Task<Server.Routing.RouteTable> RoutedTo(TestGateway peer) =>
            A.WaitForTableAsync(t => TestGateway.RoutedPort(t, TwoSites.PartyB, "echo") == peer.GrpcPort);
    }

    private static async Task<TwoPeers> StartAsync(TestCluster cluster)
    {
        var echo1 = await cluster.StartSampleAsync("echo-1");
        var echo2 = await cluster.StartSampleAsync("echo-2");
        var b1 = await cluster.StartGatewayAsync("B1", TwoSites.PartyB, RouteJson.Osx(TwoSites.PartyB, new Route(TwoSites.PartyB, "echo", echo1.Port)));
        var b2 = await cluster.StartGatewayAsync("B2", TwoSites.PartyB, RouteJson.Osx(TwoSites.PartyB, new Route(TwoSites.PartyB, "echo", echo2.Port)));
        var a = await cluster.StartGatewayAsync("A", TwoSites.PartyA, RouteJson.Osx(TwoSites.PartyA, new Route(TwoSites.PartyB, "default", b1.GrpcPort)));
        return new TwoPeers(a, b1, b2);
    }

    [Fact]
    public async Task RouteTable_RewrittenUnderLoad_NoCallFailsAndBothTargetsServe()
    {
        const int loops = 4;
        const int callsPerLoop = 300;
        const int edits = 20;
        await using var cluster = new TestCluster(output);
        var peers = await StartAsync(cluster);
        var client = cluster.EchoClient(peers.A);
        var target = TestCluster.Target(TwoSites.PartyB, "echo");
        var servedBy = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        var progress = new CallProgress();

        var load = Enumerable.Range(0, loops).Select(loop => Task.Run(async () =>
        {
            for (var i = 0; i < callsPerLoop; i++)
            {
                try
                {
                    var reply = await client.UnaryAsync(new EchoRequest { Text = $"{loop}/{i}" }, target, TestCluster.Deadline()).ResponseAsync;
                    servedBy.AddOrUpdate(reply.ServedBy, 1, (_, n) => n + 1);
                }
                catch (RpcException ex)
                {
                    failures.Enqueue($"{loop}/{i}: {ex.StatusCode} {ex.Status.Detail}");
                }
                finally
                {
                    progress.Increment();
                }
            }
        })).ToArray();

        // Twenty edits spread over the run: alternately a file replace (temp file + rename) and an API apply,
        // each switching party 10000 to the other peer, each awaited until it serves.
        for (var edit = 0; edit < edits; edit++)
        {
            await progress.WhenAtLeast((edit + 1) * 50L).DefaultTimeout();
            var next = edit % 2 == 0 ? peers.B2 : peers.B1;
            var applied = peers.RoutedTo(next);
            if (edit % 4 < 2)
            {
                peers.A.WriteRouteTable(TwoPeers.TableTo(next));
            }
            else
            {
                Assert.True(peers.A.Routes.TryApply(TwoPeers.TableTo(next), "test", out var errors), string.Join("; ", errors));
            }

            await applied.DefaultTimeout();
        }

        await Task.WhenAll(load).DefaultTimeout();

        output.WriteLine($"served by: {string.Join(", ", servedBy.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"))}; route table version {peers.A.Routes.Current.Version}");
        Assert.True(failures.IsEmpty, $"{failures.Count} failed call(s):{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(20))}");
        Assert.Equal(loops * callsPerLoop, servedBy.Values.Sum());
        Assert.True(servedBy.GetValueOrDefault("echo-1") > 0, "echo-1 never served");
        Assert.True(servedBy.GetValueOrDefault("echo-2") > 0, "echo-2 never served");
        Assert.True(peers.A.Routes.Current.Version > edits, $"version {peers.A.Routes.Current.Version}");
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task RouteTable_BrokenEdit_OldTableKeepsServingAndNextGoodEditApplies()
    {
        await using var cluster = new TestCluster(output);
        var peers = await StartAsync(cluster);
        var client = cluster.EchoClient(peers.A);
        var target = TestCluster.Target(TwoSites.PartyB, "echo");
        var version = peers.A.Routes.Current.Version;

        // 1. Not JSON at all (an editor saved half a file).
        var rejected = peers.A.Logs.WaitForAsync(e => e.EventId.Id == RouteTableRejectedEventId);
        peers.A.WriteRouteTable("""{"route_table": {"10000": {"default": [{"ip": "127.0.0.1", """);
        await rejected.DefaultTimeout();
        Assert.Contains(peers.A.Routes.LastErrors, e => e.Message.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Equal("echo-1", (await client.UnaryAsync(new EchoRequest(), target, TestCluster.Deadline()).ResponseAsync.DefaultTimeout()).ServedBy);

        // 2. Valid JSON, invalid table: a port out of range.
        rejected = peers.A.Logs.WaitForAsync(e => e.EventId.Id == RouteTableRejectedEventId);
        peers.A.WriteRouteTable(TwoPeers.TableTo(peers.B2).Replace($"\"port\": {peers.B2.GrpcPort}", "\"port\": 70000", StringComparison.Ordinal));
        await rejected.DefaultTimeout();
        var error = Assert.Single(peers.A.Routes.LastErrors);
        output.WriteLine($"LastErrors: {error}");
        Assert.Equal("route_table.10000.default[0].port", error.Path);
        Assert.Contains("70000", error.Message, StringComparison.Ordinal);
        Assert.Equal(version, peers.A.Routes.Current.Version);
        Assert.Equal("echo-1", (await client.UnaryAsync(new EchoRequest(), target, TestCluster.Deadline()).ResponseAsync.DefaultTimeout()).ServedBy);

        // 3. A good edit is applied.
        var applied = peers.RoutedTo(peers.B2);
        peers.A.WriteRouteTable(TwoPeers.TableTo(peers.B2));
        await applied.DefaultTimeout();
        Assert.Empty(peers.A.Routes.LastErrors);
        Assert.Equal("echo-2", (await client.UnaryAsync(new EchoRequest(), target, TestCluster.Deadline()).ResponseAsync.DefaultTimeout()).ServedBy);
        cluster.AssertNoUnexpectedErrors(RouteTableRejectedEventId);
    }

    [Fact]
    public async Task RouteTable_FileReplaced_ChangedEventLatencyIsReported()
    {
        await using var cluster = new TestCluster(output);
        var peers = await StartAsync(cluster);
        var samples = new List<double>();

        for (var i = 0; i < 10; i++)
        {
            var next = i % 2 == 0 ? peers.B2 : peers.B1;
            var applied = peers.RoutedTo(next);
            var stopwatch = Stopwatch.StartNew();
            peers.A.WriteRouteTable(TwoPeers.TableTo(next));
            await applied.DefaultTimeout();
            samples.Add(stopwatch.Elapsed.TotalMilliseconds);
        }

        samples.Sort();
        output.WriteLine($"route table reload latency (write temp + rename -> Changed), ms: {string.Join(", ", samples.Select(s => s.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}");
        output.WriteLine($"RELOAD-LATENCY min {samples[0]:0.0} ms, median {samples[samples.Count / 2]:0.0} ms, max {samples[^1]:0.0} ms (reload delay setting {peers.A.Server.Options.RouteTableReloadDelay.TotalMilliseconds} ms)");
        cluster.AssertNoUnexpectedErrors();
    }
}
