using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>
/// What a demo site's TLS ports say about each client, in the site's own words: its log events 1405 (client certificate
/// refused), 1406 (no client certificate) and 1407 (peer party proven by its certificate), listed in
/// <c>docs/observability.md</c>. The demo adds this provider to each site's logging, so the tour can show which party a
/// client certificate proved and why a caller was refused, without enabling debug logging on the console.
/// </summary>
internal sealed class DemoHandshakeLog : ILoggerProvider
{
    /// <summary>The category <see cref="TlsHandshakes"/> logs under.</summary>
    public static readonly string Category = typeof(TlsHandshakes).FullName!;

    private const int ClientCertificateRejected = 1405;
    private const int ClientCertificateMissing = 1406;
    private const int PeerConnected = 1407;

    private readonly ConcurrentQueue<DemoHandshake> _seen = new();

    /// <summary>Raised after a handshake was recorded (on the thread that ran the handshake).</summary>
    public event Action? Recorded;

    /// <summary>Takes the oldest handshake not taken yet.</summary>
    public bool TryTake(out DemoHandshake handshake) => _seen.TryDequeue(out handshake!);

    public ILogger CreateLogger(string categoryName) => categoryName == Category ? new Logger(this) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private void Record(DemoHandshake handshake)
    {
        _seen.Enqueue(handshake);
        Recorded?.Invoke();
    }

    private sealed class Logger(DemoHandshakeLog owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id is not (ClientCertificateRejected or ClientCertificateMissing or PeerConnected))
            {
                return;
            }

            var fields = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            string? Field(string name) => fields.FirstOrDefault(f => f.Key == name).Value?.ToString();
            owner.Record(new DemoHandshake(
                Field("Listener") ?? "",
                Field("Port") ?? "",
                eventId.Id == PeerConnected ? Field("Party") : null,
                Field("Remote") ?? "",
                eventId.Id == PeerConnected ? Field("Thumbprint") : null,
                formatter(state, exception)));
        }
    }
}

/// <summary>One TLS handshake on a demo site's inter-site port: the listener (<c>grpc-tls</c> or <c>https</c>) and its
/// port, the party the client certificate proved (null when the handshake was refused), the client's address, the
/// certificate's thumbprint, and the site's log message.</summary>
internal sealed record DemoHandshake(string Listener, string Port, string? ProvenParty, string Remote, string? Thumbprint, string Message);
