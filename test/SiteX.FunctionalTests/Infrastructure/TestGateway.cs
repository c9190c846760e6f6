using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiteX.Server.Queues;
using SiteX.Server.Configuration;
using SiteX.Server.Hosting;
using SiteX.Server.Routing;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>A running gateway of a <see cref="TestCluster"/>, with its route table file and access log.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private bool _disposed;

    public TestGateway(string name, SiteXServer server, SignalingLoggerProvider logs)
    {
        Name = name;
        Server = server;
        Logs = logs;
    }

    public string Name { get; }

    public SiteXServer Server { get; }

    public SignalingLoggerProvider Logs { get; }

    public int GrpcPort => Server.GrpcPort;

    public int AdminPort => Server.AdminPort;

    public int HttpPort => Server.HttpPort;

    public int GrpcTlsPort => Server.GrpcTlsPort;

    public int HttpsPort => Server.HttpsPort;

    public RouteTableManager Routes => Server.Routes;

    public string RouteTableFile => Server.Options.RouteTable!;

    public string AccessLogFile => Server.Options.AccessLog!;

    /// <summary>The admin API's bearer token: the configured one, or the one this gateway generated into its data dir.</summary>
    public string AdminToken => Server.Options.Admin.Token
        ?? File.ReadAllText(Path.Combine(Server.Options.DataDir, SiteX.Server.Configuration.AdminOptions.GeneratedTokenFileName)).Trim();

    /// <summary>An HTTP client for the admin port, sending the admin token.</summary>
    public HttpClient AdminClient(string? token = null)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}"), Timeout = TaskTimeoutExtensions.DefaultTimeoutTimeSpan };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token ?? AdminToken);
        return client;
    }

    public QueueManager Queues => Server.Services.GetRequiredService<QueueManager>();

    /// <summary>Bytes of records the queue store holds on disk (not its pre-allocated zeros).</summary>
    public long QueueStoreRecordBytes => ((SiteX.Server.Queues.Storage.SegmentedLogStore)Server.Services.GetRequiredService<IQueueStore>()).RecordBytes;

    /// <summary>Replaces the route table file the way careful operators and config tools do: write a temporary file
    /// next to it, then rename it over the old one (an atomic replace).</summary>
    public void WriteRouteTable(string json) => WriteAtomically(RouteTableFile, json);

    public static void WriteAtomically(string path, string text)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Completes with the first table, from now on, that <paramref name="match"/> accepts (checking the current one
    /// first). Subscribes before returning, so call it before making the edit.
    /// </summary>
    public Task<RouteTable> WaitForTableAsync(Func<RouteTable, bool> match)
    {
        var signal = TestTcs.Create<RouteTable>();
        void OnChanged(RouteTable table)
        {
            if (match(table) && signal.TrySetResult(table))
            {
                Routes.Changed -= OnChanged;
            }
        }

        Routes.Changed += OnChanged;
        OnChanged(Routes.Current);
        return signal.Task;
    }

    /// <summary>The endpoint port the current table routes (party, service) to, or 0.</summary>
    public static int RoutedPort(RouteTable table, string party, string service) =>
        table.TryLookup(party, service, null, out var match) ? match.Group.Endpoints[0].Config.Port : 0;

    public async Task StopAsync()
    {
        await Server.StopAsync().DefaultTimeout();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await Server.StopAsync().DefaultTimeout();
        }
        finally
        {
            await Server.DisposeAsync();
        }
    }

    internal static SiteXOptions Options(string selfParty, string routeTableFile, string dataDir, int grpcPort)
    {
        var options = new SiteXOptions
        {
            SelfParties = [selfParty],
            RouteTable = routeTableFile,
            GrpcPort = grpcPort,
            AdminPort = 0,
            HttpPort = 0,
            Bind = "127.0.0.1",
            AdminBind = "127.0.0.1",
            DataDir = dataDir,
            AccessLog = Path.Combine(dataDir, "flow.log"),
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        options.ForwardingEngine = ForcedEngine ?? options.ForwardingEngine;
        options.Http2Server = ForcedHttp2Server ?? options.Http2Server;
        return options;
    }

    /// <summary>What serves HTTP/2 on every test gateway's gRPC ports when <c>SITEXTEST_HTTP2_SERVER</c> names it
    /// (<c>Kestrel</c> runs the whole suite on Kestrel's HTTP/2); null: the options' default (SiteX's own server).</summary>
    internal static Http2ServerEngine? ForcedHttp2Server { get; } =
        Enum.TryParse<Http2ServerEngine>(Environment.GetEnvironmentVariable("SITEXTEST_HTTP2_SERVER"), ignoreCase: true, out var server) ? server : null;

    /// <summary>The engine every test gateway uses when <c>SITEXTEST_FORWARDING_ENGINE</c> (not <c>SITEX_*</c>, which
    /// <c>sitex</c> binds to its options) names one (to run the whole suite on YARP, <c>Yarp</c>, or on the HTTP/2
    /// relay); null: the options' default.</summary>
    internal static ForwardingEngine? ForcedEngine { get; } =
        Enum.TryParse<ForwardingEngine>(Environment.GetEnvironmentVariable("SITEXTEST_FORWARDING_ENGINE"), ignoreCase: true, out var engine) ? engine : null;

    internal static void ConfigureLogging(ILoggingBuilder logging, Xunit.Abstractions.ITestOutputHelper output, SignalingLoggerProvider logs, string name)
    {
        logging.SetMinimumLevel(LogLevel.Debug);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Yarp", LogLevel.Warning);
        logging.AddFilter("System", LogLevel.Warning);
        logging.AddProvider(new PrefixedLoggerProvider(new XunitLoggerProvider(output, LogLevel.Debug), name));
        logging.AddProvider(logs);
    }
}

/// <summary>Prefixes each category with the host's name, so interleaved logs of several gateways stay readable.</summary>
internal sealed class PrefixedLoggerProvider(ILoggerProvider inner, string prefix) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => inner.CreateLogger($"{prefix}:{categoryName}");

    public void Dispose() => inner.Dispose();
}
