using System.Diagnostics;
using System.Diagnostics.Metrics;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Diagnostics;

/// <summary>
/// SiteX's instruments (meter <c>SiteX</c>), exported for Prometheus on the admin port. Names, units and tags are
/// listed in <c>docs/observability.md</c>; change them only together.
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "SiteX";

    /// <summary>The .NET runtime's built-in meter (<c>dotnet.gc.*</c>, <c>dotnet.thread_pool.*</c>, <c>dotnet.jit.*</c>,
    /// <c>dotnet.process.*</c>), exported too.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _requestBytes;
    private readonly Counter<long> _responseBytes;
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _reloads;
    private readonly Counter<long> _connections;
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _tlsReloads;
    private readonly Counter<long> _clientCertificateRejections;
    private long _routeTableVersion;
    private long _tlsCertificateNotAfter;
    private long _callsStarted;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("sitex.requests", "{request}", "Calls handled, by peer party, service and final status.");
        _duration = meter.CreateHistogram<double>("sitex.request.duration", "s", "Time from a call's first byte to its end.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });
        _requestBytes = meter.CreateCounter<long>("sitex.request.body.size", "By", "Request body bytes received from callers.");
        _responseBytes = meter.CreateCounter<long>("sitex.response.body.size", "By", "Response body bytes sent to callers.");
        _active = meter.CreateUpDownCounter<long>("sitex.active_requests", "{request}", "Calls in progress.");
        _reloads = meter.CreateCounter<long>("sitex.route_table.reloads", "{reload}", "Route table edits, by result (applied or rejected).");
        _connections = meter.CreateCounter<long>("sitex.connections", "{connection}", "Connections accepted, by listener.");
        _activeConnections = meter.CreateUpDownCounter<long>("sitex.active_connections", "{connection}", "Connections open, by listener.");
        _tlsReloads = meter.CreateCounter<long>("sitex.tls.reloads", "{reload}", "TLS file changes, by result (applied, rejected, or unchanged for a spurious event).");
        _clientCertificateRejections = meter.CreateCounter<long>("sitex.tls.client_certificate.rejections", "{handshake}", "TLS handshakes on the inter-site ports refused for the client certificate, by reason.");
        meter.CreateObservableGauge("sitex.tls.certificate.expiry", ObserveCertificateExpiry, "s", "Expiry of the certificate the TLS ports present, as a Unix time.");
        meter.CreateObservableGauge("sitex.route_table.version", () => Interlocked.Read(ref _routeTableVersion), "{version}", "Version of the route table serving traffic.");
    }

    /// <summary>Calls started since the gateway started (for <see cref="Hosting.IdleMemoryTrimmer"/>).</summary>
    public long CallsStarted => Interlocked.Read(ref _callsStarted);

    public void CallStarted()
    {
        Interlocked.Increment(ref _callsStarted);
        _active.Add(1);
    }

    public void CallEnded(GatewayCall call)
    {
        _active.Add(-1);
        var tags = new TagList
        {
            { "sitex.peer.party", call.TargetParty ?? "" },
            { "sitex.service", call.Service },
            { "sitex.action", call.Action },
            { "sitex.status", call.StatusCode ?? "" },
            { "error.type", GatewayErrors.Name(call.Error) },
        };
        if (_requests.Enabled)
        {
            _requests.Add(1, tags);
        }

        if (_duration.Enabled)
        {
            _duration.Record(call.Elapsed.TotalSeconds, tags);
        }

        var byteTags = new TagList { { "sitex.peer.party", call.TargetParty ?? "" }, { "sitex.service", call.Service } };
        if (call.RequestBytes > 0)
        {
            _requestBytes.Add(call.RequestBytes, byteTags);
        }

        if (call.ResponseBytes > 0)
        {
            _responseBytes.Add(call.ResponseBytes, byteTags);
        }
    }

    public void ConnectionOpened(string listener)
    {
        var tag = new KeyValuePair<string, object?>("sitex.listener", listener);
        _connections.Add(1, tag);
        _activeConnections.Add(1, tag);
    }

    public void ConnectionClosed(string listener) => _activeConnections.Add(-1, new KeyValuePair<string, object?>("sitex.listener", listener));

    public void TlsReloaded(string result) => _tlsReloads.Add(1, new KeyValuePair<string, object?>("result", result));

    public void TlsCertificateLoaded(DateTimeOffset notAfter) => Interlocked.Exchange(ref _tlsCertificateNotAfter, notAfter.ToUnixTimeSeconds());

    public void ClientCertificateRejected(string reason) => _clientCertificateRejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    private IEnumerable<Measurement<long>> ObserveCertificateExpiry()
    {
        var notAfter = Interlocked.Read(ref _tlsCertificateNotAfter);
        return notAfter == 0 ? [] : [new Measurement<long>(notAfter)];
    }

    public void RouteTableReloaded(bool success, long version)
    {
        _reloads.Add(1, new KeyValuePair<string, object?>("result", success ? "applied" : "rejected"));
        if (success)
        {
            Interlocked.Exchange(ref _routeTableVersion, version);
        }
    }
}
