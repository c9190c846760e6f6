using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using SiteX.Samples;
using SiteX.Server.Hosting;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Real gateways, sample services and fake FATE servers on 127.0.0.1 free ports, plus client channels, all owned
/// by one test and disposed with it. Nothing is shared between tests.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    public const string EchoService = "sitex.samples.v1.Echo";

    private readonly ITestOutputHelper _output;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<IDisposable> _channels = [];
    private readonly List<TestGateway> _gateways = [];

    public TestCluster(ITestOutputHelper output)
    {
        _output = output;
        Temp = new TempDirectory("sitex-func-");
    }

    public TempDirectory Temp { get; }

    /// <summary>The forwarding engine of every gateway this cluster starts; null: the options' default (or the one
    /// <c>SITEXTEST_FORWARDING_ENGINE</c> forces).</summary>
    public SiteX.Server.Configuration.ForwardingEngine? Engine { get; init; }

    /// <summary>What serves HTTP/2 on the gRPC ports of every gateway this cluster starts; null: the options' default
    /// (or the one <c>SITEXTEST_HTTP2_SERVER</c> forces).</summary>
    public SiteX.Server.Configuration.Http2ServerEngine? Http2Server { get; init; }

    /// <summary>Starts a gateway serving <paramref name="selfParty"/> with the table <paramref name="routeTableJson"/>
    /// in its own file; <paramref name="grpcPort"/> 0 picks a free port.</summary>
    public async Task<TestGateway> StartGatewayAsync(string name, string selfParty, string routeTableJson, int grpcPort = 0, Action<SiteX.Server.Configuration.SiteXOptions>? configure = null)
    {
        var dataDir = Temp.Combine(name);
        Directory.CreateDirectory(dataDir);
        var routeFile = Path.Combine(dataDir, "route_table.json");
        if (!File.Exists(routeFile))
        {
            await File.WriteAllTextAsync(routeFile, routeTableJson);
        }
        else
        {
            TestGateway.WriteAtomically(routeFile, routeTableJson);
        }

        // A port just released by a stopped gateway can be briefly busy; retry a few times.
        for (var attempt = 1; ; attempt++)
        {
            var logs = new SignalingLoggerProvider();
            var options = TestGateway.Options(selfParty, routeFile, dataDir, grpcPort);
            options.ForwardingEngine = Engine ?? options.ForwardingEngine;
            options.Http2Server = Http2Server ?? options.Http2Server;
            configure?.Invoke(options);
            var server = SiteXServer.Create(options,
                logging => TestGateway.ConfigureLogging(logging, _output, logs, name));
            try
            {
                await server.StartAsync().DefaultTimeout();
            }
            catch (IOException ex) when (grpcPort != 0 && attempt < 20)
            {
                await server.DisposeAsync();
                _output.WriteLine($"{name}: port {grpcPort} busy ({ex.Message}); retrying");
                await Task.Delay(100);
                continue;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }

            var gateway = new TestGateway(name, server, logs);
            _owned.Add(gateway);
            _gateways.Add(gateway);
            _output.WriteLine($"{name} (party {selfParty}) listens on 127.0.0.1:{gateway.GrpcPort}, admin {gateway.AdminPort}");
            return gateway;
        }
    }

    public async Task<RunningSample> StartSampleAsync(string name)
    {
        var sample = await SampleHost.StartAsync(new SampleHostOptions
        {
            Name = name,
            ConfigureLogging = logging =>
            {
                logging.SetMinimumLevel(LogLevel.Warning);
                logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(_output, LogLevel.Warning), name));
            },
        }).DefaultTimeout();
        _owned.Add(sample);
        _output.WriteLine($"sample {name} listens on {sample.Address}");
        return sample;
    }

    /// <summary>Starts a plain REST service (HTTP/1.1) on a free loopback port; see <see cref="RestService"/>.</summary>
    public async Task<RestService> StartRestServiceAsync(string name)
    {
        var service = await RestService.StartAsync(new PrefixedLoggerProvider(new XunitLoggerProvider(_output, LogLevel.Warning), name));
        _owned.Add(service);
        _output.WriteLine($"REST service {name} listens on 127.0.0.1:{service.Port}");
        return service;
    }

    public async Task<FakeFateServer> StartFakeFateAsync(string name)
    {
        var fake = await FakeFateServer.StartAsync(logging =>
            logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(_output, LogLevel.Warning), name)));
        _owned.Add(fake);
        _output.WriteLine($"fake {name} listens on 127.0.0.1:{fake.Port}");
        return fake;
    }

    /// <summary>A fake Java OSX HTTP/1.1 port (<see cref="FakeOsxHttpPeer"/>), disposed with the cluster.</summary>
    public async Task<FakeOsxHttpPeer> StartFakeOsxHttpAsync(string name)
    {
        var peer = await FakeOsxHttpPeer.StartAsync(logging =>
            logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(_output, LogLevel.Warning), name)));
        _owned.Add(peer);
        _output.WriteLine($"fake OSX HTTP {name} listens on 127.0.0.1:{peer.Port}");
        return peer;
    }

    /// <summary>A client channel to a gateway's intra-site port, as an application at that site would open one.</summary>
    public GrpcChannel Channel(TestGateway gateway)
    {
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.GrpcPort}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        _channels.Add(channel);
        return channel;
    }

    public SiteX.Samples.V1.Echo.EchoClient EchoClient(TestGateway gateway) => new(Channel(gateway));

    /// <summary>The headers an application sends to reach service <paramref name="service"/> of <paramref name="party"/>.</summary>
    public static Metadata Target(string party, string service = "echo") => new()
    {
        { "x-ptp-target-node-id", party },
        { "x-ptp-target-component-name", service },
    };

    public static DateTime Deadline() => DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutTimeSpan;

    /// <summary>Fails the test if any gateway logged an error other than the expected event ids.</summary>
    public void AssertNoUnexpectedErrors(params int[] expectedEventIds)
    {
        var errors = _gateways
            .SelectMany(g => g.Logs.Entries.Where(e => e.Level >= LogLevel.Error && !expectedEventIds.Contains(e.EventId.Id)).Select(e => $"{g.Name}: {e}"))
            .ToList();
        Assert.True(errors.Count == 0, "unexpected gateway error logs:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                await _owned[i].DisposeAsync();
            }
            catch (Exception ex)
            {
                _output.WriteLine($"dispose failed: {ex.GetType().Name}: {ex.Message}");
            }
        }

        Temp.Dispose();
    }
}
