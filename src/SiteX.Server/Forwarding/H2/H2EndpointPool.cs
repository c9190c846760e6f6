using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// The relay's connections to one next hop (host, port and outbound TLS identity): calls take a stream slot on the
/// first connection with room, and another connection opens when all are full (the next hop's
/// SETTINGS_MAX_CONCURRENT_STREAMS), closed, or going away. Concurrent callers share one connection attempt.
/// </summary>
internal sealed class H2EndpointPool : IDisposable
{
    private readonly Lock _lock = new();
    private readonly H2ConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly DnsEndPoint _address;
    private readonly OutboundTls? _tls;
    private readonly CancellationTokenSource _disposed = new();
    private H2Connection[] _connections = [];
    private Task<H2Connection>? _connecting;

    public H2EndpointPool(string host, int port, OutboundTls? tls, H2ConnectionOptions options, ILogger logger)
    {
        _address = new DnsEndPoint(host.Trim('[', ']'), port);
        _tls = tls;
        _options = options;
        _logger = logger;
        var authorityHost = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        Authority = $"{authorityHost}:{port}";
        IsHttps = tls is not null;
    }

    /// <summary>The <c>:authority</c> of forwarded requests: the next hop's host and port.</summary>
    public string Authority { get; }

    public bool IsHttps { get; }

    /// <summary>Streams reserved or open on all connections.</summary>
    public int ActiveStreams => Volatile.Read(ref _connections).Sum(c => c.ActiveStreams);

    /// <summary>Open connections (for tests).</summary>
    public IReadOnlyList<H2Connection> Connections => Volatile.Read(ref _connections);

    /// <summary>A connection with a stream slot reserved for the caller (<see cref="H2Connection.TryReserve"/>).
    /// Connection failures throw <see cref="HttpRequestException"/> (<see cref="HttpRequestError.ConnectionError"/>)
    /// around the cause: a <see cref="SocketException"/>, a <see cref="NextHopTlsException"/>, a timeout.</summary>
    public ValueTask<H2Connection> AcquireAsync(CancellationToken cancellationToken)
    {
        foreach (var connection in Volatile.Read(ref _connections))
        {
            if (connection.TryReserve())
            {
                return new ValueTask<H2Connection>(connection);
            }
        }

        return AcquireSlowAsync(cancellationToken);
    }

    private async ValueTask<H2Connection> AcquireSlowAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            Task<H2Connection> connecting;
            lock (_lock)
            {
                foreach (var connection in _connections)
                {
                    if (connection.TryReserve())
                    {
                        return connection;
                    }
                }

                ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
                connecting = _connecting ??= ConnectAsync();
            }

            var opened = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (opened.TryReserve())
            {
                return opened;
            }

            if (attempt > 100)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, "no HTTP/2 connection to the next hop accepted a stream");
            }
        }
    }

    private async Task<H2Connection> ConnectAsync()
    {
        await Task.Yield(); // never complete inside the caller's lock
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            Stream transport;
            try
            {
                transport = await OpenTransportAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_disposed.IsCancellationRequested)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"connecting to {Authority} timed out after {_options.ConnectTimeout}", new SocketException((int)SocketError.TimedOut));
            }
            catch (Exception ex) when (ex is not HttpRequestException)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"connecting to {Authority} failed: {ex.Message}", ex);
            }

            var connection = new H2Connection(transport, _options, Authority, _logger, Remove);
            try
            {
                await connection.StartAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                connection.Abort(ex, goAway: null);
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"starting HTTP/2 with {Authority} failed: {ex.Message}", ex);
            }

            lock (_lock)
            {
                _connections = [.. _connections, connection];
            }

            H2RelayLog.ConnectionOpened(_logger, Authority);
            return connection;
        }
        finally
        {
            lock (_lock)
            {
                _connecting = null;
            }
        }
    }

    private async ValueTask<Stream> OpenTransportAsync(CancellationToken cancellationToken)
    {
        if (_tls is not null)
        {
            var stream = await _tls.ConnectAsync(_address, cancellationToken).ConfigureAwait(false);
            if (stream is SslStream ssl && ssl.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2 && ssl.NegotiatedApplicationProtocol != default)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw new IOException($"the next hop chose {ssl.NegotiatedApplicationProtocol} instead of HTTP/2 in ALPN");
            }

            return stream;
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_address, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Remove(H2Connection connection)
    {
        lock (_lock)
        {
            _connections = Array.FindAll(_connections, c => c != connection);
        }
    }

    public void Dispose()
    {
        H2Connection[] connections;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            connections = _connections;
        }

        foreach (var connection in connections)
        {
            connection.Abort(new ObjectDisposedException(nameof(H2EndpointPool)), H2ErrorCode.NoError);
        }
    }
}
