using SiteX.Tests.Common;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>
/// A real next hop (Kestrel, h2c, on 127.0.0.1 port 0, with the handler a test gives it), a real front server whose
/// every request the <see cref="H2Relay"/> forwards to it, and an HTTP/2 client of the front. The last relay result
/// and the exceptions are recorded for assertions.
/// </summary>
internal sealed class RelayHarness : IAsyncDisposable
{
    private readonly WebApplication? _backend;
    private readonly WebApplication _front;

    private RelayHarness(WebApplication? backend, WebApplication front, H2Relay relay, RouteDestination destination)
    {
        _backend = backend;
        _front = front;
        Relay = relay;
        Destination = destination;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public H2Relay Relay { get; }

    public RouteDestination Destination { get; }

    public HttpClient Client { get; }

    public H2EndpointPool Pool => Relay.PoolFor(Destination);

    /// <summary>Completes with each relayed call's result, in order.</summary>
    public System.Threading.Channels.Channel<(H2RelayResult Result, Exception? Exception)> Results { get; } =
        System.Threading.Channels.Channel.CreateUnbounded<(H2RelayResult, Exception?)>();

    /// <summary>A harness whose front server speaks <paramref name="frontProtocols"/> to its callers (HTTP/2 unless
    /// a test needs an HTTP/1.1 caller).</summary>
    public static Task<RelayHarness> StartAsync(RequestDelegate backend, Action<KestrelServerOptions>? configureBackend = null, SiteXOptions? options = null, HttpProtocols frontProtocols = HttpProtocols.Http2) =>
        StartCoreAsync(backend, configureBackend, null, options, frontProtocols);

    /// <summary>A harness whose next hop is <paramref name="port"/> on 127.0.0.1 (a raw listener, or nothing).</summary>
    public static Task<RelayHarness> StartForPortAsync(int port, SiteXOptions? options = null) => StartCoreAsync(null, null, port, options, HttpProtocols.Http2);

    private static async Task<RelayHarness> StartCoreAsync(RequestDelegate? backendHandler, Action<KestrelServerOptions>? configureBackend, int? port, SiteXOptions? options, HttpProtocols frontProtocols)
    {
        WebApplication? backend = null;
        if (backendHandler is not null)
        {
            backend = CreateServer(backendHandler, configureBackend, HttpProtocols.Http2);
            await backend.StartAsync().DefaultTimeout();
            port = Port(backend);
        }

        var destination = new RouteDestination(new EndpointConfig { Host = "127.0.0.1", Port = port!.Value, Protocol = EndpointProtocol.Grpc }, isPeerGateway: false);
        var relay = new H2Relay(Options.Create(options ?? new SiteXOptions()), NullLogger<H2Relay>.Instance);
        RelayHarness? harness = null;
        var front = CreateServer(async context =>
        {
            var call = new GatewayCall("GRPC", "MSG_REDIRECT") { TargetParty = "10000", Service = "echo" };
            var plan = new ForwardingPlan(call) { Via = "test#1" };
            var result = await harness!.Relay.ForwardAsync(context, destination, plan, context.RequestAborted);
            harness.Results.Writer.TryWrite((result, context.Features.Get<IForwarderErrorFeature>()?.Exception));
        }, null, frontProtocols);
        harness = new RelayHarness(backend, front, relay, destination);
        await front.StartAsync().DefaultTimeout();
        harness.Client.BaseAddress = new Uri($"http://127.0.0.1:{Port(front)}");
        return harness;
    }

    private static WebApplication CreateServer(RequestDelegate handler, Action<KestrelServerOptions>? configure, HttpProtocols protocols)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols);
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.MaxRequestBodySize = null;
            configure?.Invoke(kestrel);
        });
        var app = builder.Build();
        app.Run(handler);
        return app;
    }

    private static int Port(WebApplication app) =>
        new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

    /// <summary>Stops the next hop gracefully (Kestrel sends GOAWAY and lets running calls finish).</summary>
    public Task StopBackendAsync() => _backend!.StopAsync();

    public async Task<(H2RelayResult Result, Exception? Exception)> NextResultAsync() =>
        await Results.Reader.ReadAsync().AsTask().DefaultTimeout();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _front.StopAsync().DefaultTimeout();
        await _front.DisposeAsync();
        Relay.Dispose();
        if (_backend is not null)
        {
            await _backend.StopAsync().DefaultTimeout();
            await _backend.DisposeAsync();
        }
    }
}
