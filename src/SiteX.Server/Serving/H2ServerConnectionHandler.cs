using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;

namespace SiteX.Server.Serving;

/// <summary>Serves the connections of an inter-site gRPC listener with SiteX's own HTTP/2 server half
/// (<see cref="H2ServerConnection"/>; <see cref="SiteXOptions.Http2Server"/> = <see cref="Http2ServerEngine.SiteX"/>).</summary>
internal sealed class H2ServerConnectionHandler(H2ServerApplication application, IOptions<SiteXOptions> options, ILogger<H2ServerConnection> logger) : ConnectionHandler
{
    /// <summary>The stream and window limits and keepalive pings Kestrel's HTTP/2 has in SiteX (SiteXServer), so both
    /// engines behave alike; header lists up to 64 KiB, as the relay takes from next hops.</summary>
    private readonly H2ServerLimits _limits = new(MaxConcurrentStreams: 1000, StreamWindow: 1024 * 1024, ConnectionWindow: 4 * 1024 * 1024, MaxHeaderListSize: 64 * 1024, options.Value.IdleTimeout)
    {
        KeepAlivePingDelay = options.Value.KeepAlivePingDelay,
        KeepAlivePingTimeout = options.Value.KeepAlivePingTimeout,
    };

    public override Task OnConnectedAsync(ConnectionContext connection) =>
        new H2ServerConnection(connection, application.Runner, _limits, logger).ProcessAsync();
}
