using System.Collections.Concurrent;
using System.Net;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Internal;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding;

/// <summary>
/// HTTP clients to next hops, pooled and reused. One <see cref="SocketsHttpHandler"/> for cleartext next hops and one
/// per distinct outbound TLS identity (<see cref="OutboundTls"/>: the route's TLS fields plus the content of its
/// files); each handler keeps HTTP/2 connections per destination, multiplexes calls over them, opens more when one is
/// full, pings idle ones, and reconnects to a peer that died and came back.
/// </summary>
/// <remarks>
/// A TLS handler's connections are opened by <see cref="OutboundTls.ConnectAsync"/>, which checks the peer's chain,
/// name and pinned party on every connection. When a table version no longer uses a TLS identity (a route was edited,
/// a certificate file was replaced), its handler is retired: new calls get a handler for the new identity at once,
/// while calls already running on the old one finish undisturbed; the old handler is disposed once none is left.
/// Unchanged identities keep their handlers, so a reload that does not touch a peer keeps its connections.
/// </remarks>
internal sealed class NextHopClientPool : IDisposable
{
    private readonly SiteXOptions _options;
    private readonly ILogger<NextHopClientPool> _logger;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<OutboundTls, TlsClient> _tls = new();
    private readonly List<TlsClient> _retired = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly RouteTableManager _routes;
    private readonly SocketsHttpHandler _cleartextHandler;
    private readonly HttpMessageInvoker _cleartext;
    private readonly ConcurrentDictionary<string, GrpcChannel> _cleartextChannels = new(StringComparer.Ordinal);

    public NextHopClientPool(IOptions<SiteXOptions> options, RouteTableManager routes, ILogger<NextHopClientPool> logger)
    {
        _options = options.Value;
        _logger = logger;
        _routes = routes;
        _cleartextHandler = CreateHandler(null);
        _cleartext = new HttpMessageInvoker(_cleartextHandler, disposeHandler: false);
        routes.Changed += Retain;
    }

    /// <summary>How long a retired TLS handler stays before it is disposed, at least (calls that picked it just
    /// before it was retired still start on it).</summary>
    internal TimeSpan RetireGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>TLS handlers in use (for tests and diagnostics).</summary>
    internal int ActiveTlsClients => _tls.Count;

    /// <summary>Retired TLS handlers not yet disposed.</summary>
    internal int RetiredTlsClients
    {
        get
        {
            lock (_gate)
            {
                return _retired.Count;
            }
        }
    }

    public HttpMessageInvoker Get(RouteDestination endpoint)
    {
        if (!endpoint.IsHttps)
        {
            return _cleartext;
        }

        return TlsClientFor(endpoint).Invoker;
    }

    /// <summary>A gRPC channel to <paramref name="endpoint"/> over the same pooled connections, for calls SiteX makes
    /// itself (queue pushes relayed as <c>invoke</c>).</summary>
    public GrpcChannel GetChannel(RouteDestination endpoint)
    {
        if (!endpoint.IsHttps)
        {
            return _cleartextChannels.TryGetValue(endpoint.DestinationPrefix, out var channel)
                ? channel
                : _cleartextChannels.GetOrAdd(endpoint.DestinationPrefix, prefix => CreateChannel(prefix, _cleartextHandler));
        }

        return TlsClientFor(endpoint).Channel(endpoint.DestinationPrefix);
    }

    private TlsClient TlsClientFor(RouteDestination endpoint)
    {
        var tls = endpoint.Tls ?? throw new InvalidOperationException($"the TLS settings of {endpoint.Display} were not loaded; build route tables through RouteTableManager");
        if (_tls.TryGetValue(tls, out var client))
        {
            return client;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            return _tls.GetOrAdd(tls, t => new TlsClient(t, CreateHandler(t)));
        }
    }

    internal static GrpcChannel CreateChannel(string prefix, HttpMessageHandler handler) => GrpcChannel.ForAddress(prefix, new GrpcChannelOptions
    {
        HttpHandler = handler,
        DisposeHttpClient = false,
        MaxReceiveMessageSize = null,
        MaxSendMessageSize = null,
    });

    private SocketsHttpHandler CreateHandler(OutboundTls? tls)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = _options.ConnectTimeout,
            KeepAlivePingDelay = _options.KeepAlivePingDelay,
            KeepAlivePingTimeout = _options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = _options.IdleTimeout,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            InitialHttp2StreamWindowSize = 1024 * 1024,
            ActivityHeadersPropagator = null,
        };
        if (tls is not null)
        {
            // The connection is TLS when it reaches the handler: OutboundTls does the handshake and every check.
            handler.ConnectCallback = (context, cancellationToken) => tls.ConnectAsync(context.DnsEndPoint, cancellationToken);
        }

        return handler;
    }

    /// <summary>Retires the TLS handlers that <paramref name="table"/> no longer uses.</summary>
    private void Retain(RouteTable table)
    {
        var live = new HashSet<OutboundTls>();
        foreach (var rule in table.Config.Rules)
        {
            foreach (var endpoint in rule.Endpoints)
            {
                if (endpoint.Tls is { } tls)
                {
                    live.Add(tls);
                }
            }
        }

        List<TlsClient> retired = [];
        lock (_gate)
        {
            foreach (var (tls, client) in _tls)
            {
                if (!live.Contains(tls) && _tls.TryRemove(tls, out _))
                {
                    retired.Add(client);
                    _retired.Add(client);
                }
            }
        }

        foreach (var client in retired)
        {
            OutboundTlsLog.IdentityRetired(_logger, client.Tls.ToString(), client.Leases);
            _ = DisposeWhenIdleAsync(client);
        }
    }

    private async Task DisposeWhenIdleAsync(TlsClient client)
    {
        if (!await Retirement.WaitUntilUnusedAsync(() => client.Leases, RetireGrace, _stopping.Token).ConfigureAwait(false))
        {
            return; // Dispose() disposes everything.
        }

        lock (_gate)
        {
            if (!_retired.Remove(client))
            {
                return;
            }
        }

        client.Dispose();
    }

    public void Dispose()
    {
        List<TlsClient> clients;
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            _stopping.Cancel();
            _routes.Changed -= Retain;
            clients = [.. _tls.Values, .. _retired];
            _tls.Clear();
            _retired.Clear();
        }

        foreach (var channel in _cleartextChannels.Values)
        {
            channel.Dispose();
        }

        _cleartextChannels.Clear();
        _cleartext.Dispose();
        _cleartextHandler.Dispose();
        foreach (var client in clients)
        {
            client.Dispose();
        }

        _stopping.Dispose();
    }

    /// <summary>The handler, invoker and gRPC channels of one TLS identity, with a count of calls using them.</summary>
    private sealed class TlsClient : IDisposable
    {
        private readonly SocketsHttpHandler _handler;
        private readonly LeaseHandler _leases;
        private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

        public TlsClient(OutboundTls tls, SocketsHttpHandler handler)
        {
            Tls = tls;
            _handler = handler;
            _leases = new LeaseHandler(handler);
            Invoker = new HttpMessageInvoker(_leases, disposeHandler: false);
        }

        public OutboundTls Tls { get; }

        public HttpMessageInvoker Invoker { get; }

        /// <summary>Calls started on this client whose responses are not finished.</summary>
        public int Leases => _leases.Active;

        public GrpcChannel Channel(string prefix) =>
            _channels.TryGetValue(prefix, out var channel) ? channel : _channels.GetOrAdd(prefix, p => CreateChannel(p, _leases));

        public void Dispose()
        {
            foreach (var channel in _channels.Values)
            {
                channel.Dispose();
            }

            Invoker.Dispose();
            _leases.Dispose();
            _handler.Dispose();
        }
    }
}
