using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>
/// HTTP clients to next hops, pooled and reused. One <see cref="SocketsHttpHandler"/> per distinct client TLS
/// identity; the handler itself keeps HTTP/2 connections per destination, multiplexes calls over them, opens more
/// when one is full, pings idle ones, and reconnects to a peer that died and came back.
/// </summary>
internal sealed class NextHopClientPool : IDisposable
{
    private readonly SiteXOptions _options;
    private readonly ConcurrentDictionary<TlsKey, HttpMessageInvoker> _clients = new();
    private readonly ConcurrentDictionary<TlsKey, SocketsHttpHandler> _handlers = new();
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public NextHopClientPool(IOptions<SiteXOptions> options)
    {
        _options = options.Value;
    }

    public HttpMessageInvoker Get(RouteDestination endpoint)
    {
        var key = KeyOf(endpoint);
        return _clients.TryGetValue(key, out var client) ? client : _clients.GetOrAdd(key, k => new HttpMessageInvoker(Handler(k), disposeHandler: false));
    }

    /// <summary>A gRPC channel to <paramref name="endpoint"/> over the same pooled connections, for calls SiteX makes
    /// itself (queue pushes relayed as <c>invoke</c>).</summary>
    public GrpcChannel GetChannel(RouteDestination endpoint)
    {
        var key = $"{endpoint.DestinationPrefix}|{KeyOf(endpoint)}";
        return _channels.TryGetValue(key, out var channel) ? channel : _channels.GetOrAdd(key, _ => GrpcChannel.ForAddress(endpoint.DestinationPrefix, new GrpcChannelOptions
        {
            HttpHandler = Handler(KeyOf(endpoint)),
            DisposeHttpClient = false,
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        }));
    }

    private static TlsKey KeyOf(RouteDestination endpoint)
    {
        var config = endpoint.Config;
        return config.UseTls
            ? new TlsKey(true, config.CertChainFile, config.PrivateKeyFile, config.CaFile, config.Hostname)
            : TlsKey.Cleartext;
    }

    private SocketsHttpHandler Handler(TlsKey key) => _handlers.TryGetValue(key, out var handler) ? handler : _handlers.GetOrAdd(key, CreateHandler);

    private SocketsHttpHandler CreateHandler(TlsKey key)
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
        if (key.Tls)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            };
        }

        return handler;
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        foreach (var handler in _handlers.Values)
        {
            handler.Dispose();
        }

        _channels.Clear();
        _clients.Clear();
        _handlers.Clear();
    }

    private readonly record struct TlsKey(bool Tls, string? CertChainFile, string? PrivateKeyFile, string? CaFile, string? Hostname)
    {
        public static TlsKey Cleartext { get; } = new(false, null, null, null, null);
    }
}
