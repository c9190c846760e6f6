using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
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

    public NextHopClientPool(IOptions<SiteXOptions> options)
    {
        _options = options.Value;
    }

    public HttpMessageInvoker Get(RouteDestination endpoint)
    {
        var config = endpoint.Config;
        var key = config.UseTls
            ? new TlsKey(true, config.CertChainFile, config.PrivateKeyFile, config.CaFile, config.Hostname)
            : TlsKey.Cleartext;
        return _clients.TryGetValue(key, out var client) ? client : _clients.GetOrAdd(key, Create);
    }

    private HttpMessageInvoker Create(TlsKey key)
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

        return new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _clients.Clear();
    }

    private readonly record struct TlsKey(bool Tls, string? CertChainFile, string? PrivateKeyFile, string? CaFile, string? Hostname)
    {
        public static TlsKey Cleartext { get; } = new(false, null, null, null, null);
    }
}
