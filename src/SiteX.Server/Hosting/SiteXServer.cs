using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using SiteX.Server.Admin;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using SiteX.Server.Serving;

namespace SiteX.Server.Hosting;

/// <summary>
/// One SiteX gateway: Kestrel listeners, the route registry, forwarding, metrics and the access log. The same type
/// runs in <c>sitex serve</c>, in in-process tests and in benchmarks.
/// </summary>
public sealed class SiteXServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenerInfo _listeners;

    private SiteXServer(WebApplication app, ListenerInfo listeners)
    {
        _app = app;
        _listeners = listeners;
    }

    /// <summary>Builds a gateway. The route table is loaded here: a bad table throws <see cref="RouteTableException"/>
    /// and no port is opened.</summary>
    public static SiteXServer Create(SiteXOptions options, Action<ILoggingBuilder>? configureLogging = null)
    {
        ValidateOptions(options);
        // The empty builder reads no appsettings.json from the working directory and no ASPNETCORE_* variables:
        // SiteX's settings come only from SiteXOptions.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ApplicationName = "SiteX" });
        builder.WebHost.UseKestrelCore();

        // SiteX's own HTTP/2 server never runs an application on the thread that read its request (it queues each
        // request to the thread pool), so its connections are served on the thread that completed the socket read,
        // with no hand-off (ADR 0011; with InlineSocketCompletions, that thread is the socket thread itself).
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.Http2Server == Http2ServerEngine.SiteX);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // ASP.NET Core starts an Activity for every request when this category logs at any level (for log scopes).
        // SiteX traces calls by x-ptp-trace-id and its own access log; it only logs request start and end, so off,
        // it saves the Activity and its async-local context on every call (W3C traceparent still passes through).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp", LogLevel.Warning); // forwarding failures are logged once, by CallForwarder
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
            builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Warning);
        }

        var listeners = new ListenerInfo();
        builder.Services.AddSingleton(listeners);
        builder.Services.AddSiteX(options);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        // Kestrel's connections take their buffers from one pool of 128 KiB blocks (IoBufferPool).
        builder.Services.AddSingleton<IoBufferPool>();
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(services => services.GetRequiredService<IoBufferPool>());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.KeepAliveTimeout = options.IdleTimeout;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
            kestrel.Limits.Http2.KeepAlivePingDelay = options.KeepAlivePingDelay;
            kestrel.Limits.Http2.KeepAlivePingTimeout = options.KeepAlivePingTimeout;
            kestrel.Listen(ParseAddress(options.Bind, nameof(options.Bind)), options.GrpcPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listeners.Grpc = listen;
                CountConnections(listen, "grpc");
                ProtocolSniffer.Use(listen, "grpc", expectTls: false);
                UseHttp2Server(listen, options);
            });
            kestrel.Listen(ParseAddress(options.Bind, nameof(options.Bind)), options.HttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listeners.Http = listen;
                CountConnections(listen, "http");
                ProtocolSniffer.Use(listen, "http", expectTls: false);
            });
            if (options.Tls.Enabled)
            {
                // The inter-site ports: TLS with the current certificate snapshot on every handshake (rotation needs
                // no restart), client certificates checked against Tls:CaFile only.
                var handshakes = kestrel.ApplicationServices.GetRequiredService<TlsHandshakes>();
                kestrel.Listen(ParseAddress(options.Tls.Bind, "Tls:Bind"), options.Tls.GrpcTlsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    listeners.GrpcTls = listen;
                    CountConnections(listen, "grpc-tls");
                    ProtocolSniffer.Use(listen, "grpc-tls", expectTls: true);
                    listen.UseHttps(handshakes.For("grpc-tls"));
                    UseHttp2Server(listen, options);
                });
                kestrel.Listen(ParseAddress(options.Tls.Bind, "Tls:Bind"), options.Tls.HttpsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listeners.Https = listen;
                    CountConnections(listen, "https");
                    ProtocolSniffer.Use(listen, "https", expectTls: true);
                    listen.UseHttps(handshakes.For("https"));
                });
            }
            kestrel.Listen(ParseAddress(options.AdminBind, nameof(options.AdminBind)), options.AdminPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listeners.Admin = listen;
                // Marks the admin listener's connections: the admin branch is chosen by listener, never by port number
                // alone, so no other listener (one on another address with the same port) can reach it.
                listen.Use(next => connection =>
                {
                    connection.Features.Set(AdminListenerFeature.Instance);
                    return next(connection);
                });
            });
        });

        if (options.Http2Server == Http2ServerEngine.SiteX)
        {
            H2ServerApplication.CaptureIn(builder.Services);
        }

        var app = builder.Build();
        try
        {
            app.Services.GetRequiredService<RouteTableManager>().InitialLoad();
            app.Services.GetRequiredService<TlsMaterialManager>().InitialLoad();
            app.Services.GetRequiredService<SiteX.Server.Security.RequestTokens>().Start();
            app.Services.GetRequiredService<AdminToken>().Initialize();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        var pipeline = app.Services.GetRequiredService<CallPipeline>();
        var guard = app.Services.GetRequiredService<AdminGuard>();
        app.MapWhen(context => context.Features.Get<AdminListenerFeature>() is not null, admin =>
        {
            admin.Use(guard.InvokeAsync);
            admin.UseOpenTelemetryPrometheusScrapingEndpoint();
            AdminEndpoints.Map(admin);
        });
        app.MapWhen(context => context.Connection.LocalPort == listeners.HttpPort, http => http.Run(pipeline.HandleHttpAsync));
        if (options.Tls.Enabled)
        {
            app.MapWhen(context => context.Connection.LocalPort == listeners.GrpcTlsPort, grpcTls => grpcTls.Run(pipeline.HandleGrpcTlsAsync));
            app.MapWhen(context => context.Connection.LocalPort == listeners.HttpsPort, https => https.Run(pipeline.HandleHttpsAsync));
        }

        app.Run(pipeline.HandleGrpcAsync);
        return new SiteXServer(app, listeners);
    }

    public IServiceProvider Services => _app.Services;

    public RouteTableManager Routes => _app.Services.GetRequiredService<RouteTableManager>();

    public SiteXOptions Options => _app.Services.GetRequiredService<IOptions<SiteXOptions>>().Value;

    /// <summary>The bound intra-site gRPC port (after <see cref="StartAsync"/>).</summary>
    public int GrpcPort => _listeners.GrpcPort;

    /// <summary>The bound HTTP/1.1 interconnection port (after <see cref="StartAsync"/>).</summary>
    public int HttpPort => _listeners.HttpPort;

    /// <summary>The bound inter-site TLS gRPC port (after <see cref="StartAsync"/>), or 0 when the TLS ports are closed.</summary>
    public int GrpcTlsPort => _listeners.GrpcTlsPort;

    /// <summary>The bound inter-site HTTPS port (after <see cref="StartAsync"/>), or 0 when the TLS ports are closed.</summary>
    public int HttpsPort => _listeners.HttpsPort;

    /// <summary>The bound admin port (after <see cref="StartAsync"/>).</summary>
    public int AdminPort => _listeners.AdminPort;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _app.Services.GetRequiredService<AdminToken>().WriteGeneratedFile();
        return _app.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
    }

    /// <summary>With <see cref="Http2ServerEngine.SiteX"/>, the listener's connections are served by SiteX's own HTTP/2
    /// server half after the listener's other connection middleware (counting, protocol sniffing, TLS).</summary>
    private static void UseHttp2Server(ListenOptions listen, SiteXOptions options)
    {
        if (options.Http2Server == Http2ServerEngine.SiteX)
        {
            listen.UseConnectionHandler<H2ServerConnectionHandler>();
        }
    }

    private static void CountConnections(ListenOptions listen, string name)
    {
        var metrics = listen.ApplicationServices.GetRequiredService<GatewayMetrics>();
        listen.Use(next => async connection =>
        {
            metrics.ConnectionOpened(name);
            try
            {
                await next(connection);
            }
            finally
            {
                metrics.ConnectionClosed(name);
            }
        });
    }

    private static void ValidateOptions(SiteXOptions options)
    {
        var errors = new List<string>();
        if (options.SelfParties.Count == 0 || options.SelfParties.Any(p => !RouteTableParser.IsValidId(p)))
        {
            errors.Add("SelfParties: list at least one party id (1-128 letters, digits, '.', '_' or '-'), e.g. --self-party 9999");
        }

        if (options.GrpcPort is < 0 or > 65535)
        {
            errors.Add($"GrpcPort: {options.GrpcPort} is not a TCP port; use 0-65535");
        }

        if (options.AdminPort is < 0 or > 65535)
        {
            errors.Add($"AdminPort: {options.AdminPort} is not a TCP port; use 0-65535");
        }

        if (options.HttpPort is < 0 or > 65535)
        {
            errors.Add($"HttpPort: {options.HttpPort} is not a TCP port; use 0-65535");
        }

        if (options.GrpcPort != 0 && options.GrpcPort == options.AdminPort)
        {
            errors.Add($"GrpcPort and AdminPort are both {options.GrpcPort}; give each its own port");
        }

        if (options.HttpPort != 0 && (options.HttpPort == options.GrpcPort || options.HttpPort == options.AdminPort))
        {
            errors.Add($"HttpPort {options.HttpPort} is also the gRPC or admin port; give each its own port");
        }

        if (options.MaxHops < 1)
        {
            errors.Add("MaxHops: must be at least 1");
        }

        // Kestrel refuses anything shorter at start-up, with an exception that names neither setting nor file.
        if (options.KeepAlivePingDelay < TimeSpan.FromSeconds(1) || options.KeepAlivePingTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add($"KeepAlivePingDelay ({options.KeepAlivePingDelay}) and KeepAlivePingTimeout ({options.KeepAlivePingTimeout}): each must be at least 00:00:01");
        }

        if (!IPAddress.TryParse(options.Bind, out _) && options.Bind != "localhost")
        {
            errors.Add($"Bind: \"{options.Bind}\" is not an IP address; use e.g. 127.0.0.1 or the site's local network address");
        }

        if (!IPAddress.TryParse(options.AdminBind, out _) && options.AdminBind != "localhost")
        {
            errors.Add($"AdminBind: \"{options.AdminBind}\" is not an IP address; use e.g. 127.0.0.1");
        }

        ValidateTlsOptions(options, errors);
        SiteX.Server.Security.TokenKeyFile.Load(options.Tokens, out var tokenErrors);
        errors.AddRange(tokenErrors);
        if (options.Tokens.Window <= TimeSpan.Zero || options.Tokens.ReplayCacheCapacity < 1 || options.Tokens.MaxSignedBodyBytes < 0)
        {
            errors.Add("Tokens: Window must be positive, ReplayCacheCapacity at least 1 and MaxSignedBodyBytes not negative");
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(nameof(SiteXOptions), typeof(SiteXOptions), errors);
        }
    }

    private static void ValidateTlsOptions(SiteXOptions options, List<string> errors)
    {
        var tls = options.Tls ?? new TlsOptions();
        options.Tls = tls;
        if (tls.GrpcTlsPort is < 0 or > 65535)
        {
            errors.Add($"Tls:GrpcTlsPort: {tls.GrpcTlsPort} is not a TCP port; use 0-65535");
        }

        if (tls.HttpsPort is < 0 or > 65535)
        {
            errors.Add($"Tls:HttpsPort: {tls.HttpsPort} is not a TCP port; use 0-65535");
        }

        if (tls.Enabled)
        {
            var ports = new[] { ("GrpcPort", options.GrpcPort), ("HttpPort", options.HttpPort), ("AdminPort", options.AdminPort), ("Tls:GrpcTlsPort", tls.GrpcTlsPort), ("Tls:HttpsPort", tls.HttpsPort) };
            foreach (var group in ports.Where(p => p.Item2 != 0).GroupBy(p => p.Item2).Where(g => g.Count() > 1 && g.Any(p => p.Item1.StartsWith("Tls:", StringComparison.Ordinal))))
            {
                errors.Add($"{string.Join(" and ", group.Select(p => p.Item1))} are all {group.Key}; give each its own port");
            }
        }

        if (!IPAddress.TryParse(tls.Bind, out _) && tls.Bind != "localhost")
        {
            errors.Add($"Tls:Bind: \"{tls.Bind}\" is not an IP address; use e.g. 0.0.0.0 or the address peers reach");
        }

        if (!PeerIdentitySources.All.Contains(tls.IdentitySource))
        {
            errors.Add($"Tls:IdentitySource: \"{tls.IdentitySource}\" is not an identity source; use {string.Join(", ", PeerIdentitySources.All)}");
        }

        if (tls.IdentitySource == PeerIdentitySources.UriSan && string.IsNullOrWhiteSpace(tls.PartyUriPrefix))
        {
            errors.Add("Tls:PartyUriPrefix: must not be empty with identity source uri-san (default urn:sitex:party:)");
        }

        if (!Enum.IsDefined(tls.ClientCertificate))
        {
            errors.Add($"Tls:ClientCertificate: {tls.ClientCertificate} is not Required or Optional");
        }

        foreach (var relay in tls.TrustedRelays.Where(r => !RouteTableParser.IsValidId(r)))
        {
            errors.Add($"Tls:TrustedRelays: \"{RouteTableParser.Truncate(relay)}\" is not a party id (1-128 letters, digits, '.', '_' or '-')");
        }

        if (tls.ReloadDelay < TimeSpan.Zero)
        {
            errors.Add("Tls:ReloadDelay: must not be negative");
        }
    }

    private static IPAddress ParseAddress(string text, string setting) =>
        text == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(text, out var address) ? address
        : throw new OptionsValidationException(setting, typeof(SiteXOptions), [$"{setting}: \"{text}\" is not an IP address"]);
}
