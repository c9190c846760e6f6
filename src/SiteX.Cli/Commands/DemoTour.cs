using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Samples;
using SiteX.Samples.V1;
using SiteX.Server.Hosting;
using SiteX.Server.Routing;

namespace SiteX.Cli.Commands;

/// <summary>
/// What <c>sitex demo</c> shows once everything runs: the layout and certificates, two Echo calls through both gateways
/// with the route each gateway takes and the party site 10000's TLS port proved from the client certificate, a call
/// without a client certificate that the TLS port refuses, and what to try next. Afterwards it sends the two calls
/// again after a route table edit, and reports handshakes on the TLS ports as they happen.
/// </summary>
internal sealed class DemoTour : IAsyncDisposable
{
    private const string UnaryPath = "/" + DemoRouteTables.EchoGrpcService + "/Unary";

    private readonly DemoSite _siteA;
    private readonly SiteXServer _serverA;
    private readonly DemoSite _siteB;
    private readonly SiteXServer _serverB;
    private readonly RunningSample _sample;
    private readonly DemoCertificates _certificates;
    private readonly TextWriter _output;
    private readonly GrpcChannel _channel;
    private readonly Echo.EchoClient _client;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private int _callNumber;
    private bool _watching;

    public DemoTour(DemoSite siteA, SiteXServer serverA, DemoSite siteB, SiteXServer serverB, RunningSample sample, DemoCertificates certificates, TextWriter output)
    {
        _siteA = siteA;
        _serverA = serverA;
        _siteB = siteB;
        _serverB = serverB;
        _sample = sample;
        _certificates = certificates;
        _output = output;
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{serverA.GrpcPort}");
        _client = new Echo.EchoClient(_channel);
    }

    private string AddressA => $"127.0.0.1:{_serverA.GrpcPort}";

    private string TlsAddressA => $"127.0.0.1:{_serverA.GrpcTlsPort}";

    private string AddressB => $"127.0.0.1:{_serverB.GrpcPort}";

    private string TlsAddressB => $"127.0.0.1:{_serverB.GrpcTlsPort}";

    public async Task PrintLayoutAsync()
    {
        var w = _output;
        var c = _certificates;
        await w.WriteLineAsync("SiteX demo: two gateways and a sample service, all in this process on 127.0.0.1. Plain gRPC ports serve each site's own");
        await w.WriteLineAsync("services; the gateways call each other on their TLS gRPC ports, with client certificates (mutual TLS).");
        await w.WriteLineAsync($"  site {_siteA.Party,-6} gRPC {AddressA,-16} TLS gRPC {TlsAddressA,-16} admin http://127.0.0.1:{_serverA.AdminPort}");
        await w.WriteLineAsync($"  site {_siteB.Party,-6} gRPC {AddressB,-16} TLS gRPC {TlsAddressB,-16} admin http://127.0.0.1:{_serverB.AdminPort}");
        await w.WriteLineAsync($"  Echo sample gRPC {_sample.Address,-16} {DemoRouteTables.EchoGrpcService}, service \"{DemoRouteTables.EchoServiceName}\" of party {_siteB.Party}");
        await w.WriteLineAsync($"Certificates ({c.Origin}, valid until {c.NotAfter.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)}; what sitex certs demo --parties {_siteA.Party},{_siteB.Party} writes):");
        await w.WriteLineAsync($"  demo CA     {c.CaFile}: the TLS ports take client certificates from this CA only");
        foreach (var site in (DemoSite[])[_siteA, _siteB])
        {
            await w.WriteLineAsync($"  site {site.Party,-6} {c.CertificateFile(site.Party)} and its key {c.KeyFile(site.Party)}: names party {site.Party}, 127.0.0.1 and localhost");
        }

        await w.WriteLineAsync("Route tables (OSX route_table.json; edit and save, the gateway reloads it at once):");
        await w.WriteLineAsync($"  site {_siteA.Party,-6} {_siteA.TablePath}");
        await w.WriteLineAsync($"  site {_siteB.Party,-6} {_siteB.TablePath}");
        await w.WriteLineAsync();
    }

    /// <summary>Sends the two calls: one routed by PTP headers, one by the route table's service binding.</summary>
    public async Task SendCallsAsync(CancellationToken cancellationToken, string? heading = null)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (heading is not null)
            {
                await _output.WriteLineAsync(heading);
            }

            await SendAsync(withHeaders: true, cancellationToken);
            await SendAsync(withHeaders: false, cancellationToken);
            await _output.WriteLineAsync();
            await _output.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The third call: straight to site 10000's TLS gRPC port as an outsider would send it, trusting the demo CA
    /// but with no client certificate. The port refuses it in the TLS handshake and says why.</summary>
    public async Task SendWithoutCertificateAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var number = Interlocked.Increment(ref _callNumber);
            await _output.WriteLineAsync($"[{number}] Echo/Unary straight to site {_siteB.Party}'s TLS gRPC port {TlsAddressB}, trusting the demo CA but with no client certificate");
            var outcome = await DemoUncertifiedCall.SendAsync(_serverB.GrpcTlsPort, _certificates.CaFile, $"hello #{number} from outside the federation", cancellationToken);
            await PrintHandshakesAsync("    ");
            await _output.WriteLineAsync($"    {outcome}");
            await _output.WriteLineAsync();
            await _output.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task PrintNextStepsAsync(string cli)
    {
        var w = _output;
        var admin = $"http://127.0.0.1:{_serverA.AdminPort}";
        await w.WriteLineAsync("Try next (copy and paste):");
        // Each host exports only its own gateway's "SiteX" series (SiteXServiceCollectionExtensions drops the other
        // host's); the runtime's dotnet_* series are the one process's, shared by both sites.
        await w.WriteLineAsync($"  curl {admin}/metrics          # Prometheus metrics of site {_siteA.Party}: per-party calls, bytes, latency");
        await w.WriteLineAsync($"  curl {admin}/healthz          # its route table version and self parties");
        await w.WriteLineAsync($"  tail -f {_siteA.FlowLogPath}  # one line per call, OSX flow.log format");
        await w.WriteLineAsync($"  tail -f {_siteB.FlowLogPath}  # src:{_siteA.Party}: the party site {_siteB.Party} took from the client certificate");
        await w.WriteLineAsync($"  {cli} check {_siteB.Party} --route-table {_siteA.TablePath}");
        await w.WriteLineAsync($"    (site {_siteA.Party}'s route to party {_siteB.Party} step by step: TCP, TLS, the certificate's chain, host and party, a round trip)");
        await w.WriteLineAsync($"  {cli} routes validate {_siteB.TablePath}");
        await w.WriteLineAsync($"  Edit {_siteB.TablePath}: set the \"{DemoRouteTables.EchoServiceName}\" port to 1 and save;");
        await w.WriteLineAsync("    the demo sends both calls again and shows the failure. Put the port back to recover.");
        await w.WriteLineAsync($"  grpcurl -plaintext -import-path proto -proto samples/echo.proto -d '{{\"text\":\"hi\"}}' {AddressA} {DemoRouteTables.EchoGrpcService}/Unary");
        await w.WriteLineAsync("    (from the repository root, if grpcurl is installed; routed by the service binding)");
    }

    /// <summary>From now on: after a gateway applies an edited route table, says so and sends the calls again; and
    /// reports each handshake on either site's TLS ports (a <c>sitex check</c>, a curl) as it happens.</summary>
    public void Watch()
    {
        _serverA.Routes.Changed += OnChangedA;
        _serverB.Routes.Changed += OnChangedB;
        _siteA.Handshakes.Recorded += OnHandshake;
        _siteB.Handshakes.Recorded += OnHandshake;
        _watching = true;
        _ = ReportHandshakesAsync(); // any seen since the tour's last call
    }

    private void OnHandshake() => _ = ReportHandshakesAsync();

    /// <summary>Prints handshakes that happened outside the tour's own calls (those print theirs themselves).</summary>
    private async Task ReportHandshakesAsync()
    {
        try
        {
            await _gate.WaitAsync(_stopping.Token);
            try
            {
                await PrintHandshakesAsync("");
                await _output.FlushAsync(_stopping.Token);
            }
            finally
            {
                _gate.Release();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && _stopping.IsCancellationRequested)
        {
            // Shutting down: a handshake seen at the last moment is not reported.
        }
    }

    /// <summary>Prints the handshakes both sites' TLS ports have seen since the last call to this (under the gate).</summary>
    private async Task PrintHandshakesAsync(string indent)
    {
        foreach (var site in (DemoSite[])[_siteA, _siteB])
        {
            while (site.Handshakes.TryTake(out var handshake))
            {
                await _output.WriteLineAsync($"{indent}site {site.Party,-6} {Describe(handshake)}");
            }
        }
    }

    private string Describe(DemoHandshake handshake)
    {
        var port = handshake.Listener == "https" ? "HTTPS port" : "TLS gRPC port";
        if (handshake.ProvenParty is null)
        {
            return $"logged: {handshake.Message}";
        }

        var certificate = handshake.Thumbprint is { } thumbprint && _certificates.FileOf(thumbprint) is { } file ? file : $"with thumbprint {handshake.Thumbprint}";
        return $"{port} {handshake.Port}: party {handshake.ProvenParty} connected from {handshake.Remote}, proven by its client certificate {certificate}";
    }

    private void OnChangedA(RouteTable table) => _ = OnChangedAsync(_siteA, table);

    private void OnChangedB(RouteTable table) => _ = OnChangedAsync(_siteB, table);

    private async Task OnChangedAsync(DemoSite site, RouteTable table)
    {
        try
        {
            await SendCallsAsync(_stopping.Token, $"site {site.Party}: route table version {table.Version} applied ({table.RuleCount} route(s)); sending the calls again:");
        }
        catch (Exception) when (_stopping.IsCancellationRequested)
        {
            // Shutting down: the calls in flight were cancelled.
        }
    }

    private async Task SendAsync(bool withHeaders, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _callNumber);
        var w = _output;
        var headers = new Metadata();
        if (withHeaders)
        {
            headers.Add(PtpHeaders.TargetNodeId, _siteB.Party);
            headers.Add(PtpHeaders.TargetComponentName, DemoRouteTables.EchoServiceName);
            await w.WriteLineAsync($"[{number}] Echo/Unary to site {_siteA.Party} with {PtpHeaders.TargetNodeId}={_siteB.Party}, {PtpHeaders.TargetComponentName}={DemoRouteTables.EchoServiceName}");
        }
        else
        {
            await w.WriteLineAsync($"[{number}] Echo/Unary to site {_siteA.Party} with no routing headers");
        }

        // The route each gateway will take, as its current table says.
        var party = _siteB.Party;
        var service = DemoRouteTables.EchoServiceName;
        if (!withHeaders)
        {
            if (_serverA.Routes.Current.TryGetGrpcBinding(UnaryPath, out var binding))
            {
                await w.WriteLineAsync($"    site {_siteA.Party,-6} {binding.Path} binds {DemoRouteTables.EchoGrpcService} to party {binding.Party} service {binding.Service}");
                (party, service) = (binding.Party, binding.Service);
            }
            else
            {
                await w.WriteLineAsync($"    site {_siteA.Party,-6} no service binding for {DemoRouteTables.EchoGrpcService}: the call names no party");
            }
        }

        await w.WriteLineAsync($"    site {_siteA.Party,-6} {DescribeRoute(_serverA, party, service)}");
        if (_serverA.Routes.Current.TryLookup(party, service, null, out var first) && first.Group.Endpoints.Any(e => e.Display == TlsAddressB || e.Display == AddressB))
        {
            await w.WriteLineAsync($"    site {_siteB.Party,-6} {DescribeRoute(_serverB, party, service)}");
        }

        var request = new EchoRequest { Text = $"hello #{number} from the SiteX demo", EchoMetadata = true };
        var started = Stopwatch.GetTimestamp();
        try
        {
            var reply = await _client.UnaryAsync(request, headers, DateTime.UtcNow.AddSeconds(10), cancellationToken);
            var elapsed = Milliseconds(Stopwatch.GetElapsedTime(started));
            await PrintHandshakesAsync("    ");
            var via = reply.Metadata.TryGetValue(SiteXHeaders.Via, out var v) ? v.Replace(",", " > ", StringComparison.Ordinal) : "?";
            var firstCall = number == 1 ? " (includes opening the connections)" : "";
            await w.WriteLineAsync($"    reply \"{reply.Text}\" served_by {reply.ServedBy}, via {via}, round trip {elapsed} ms{firstCall}");
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            var elapsed = Milliseconds(Stopwatch.GetElapsedTime(started));
            await PrintHandshakesAsync("    ");
            var code = ex.Trailers.GetValue(SiteXHeaders.Error) is { } name ? $" ({name})" : "";
            await w.WriteLineAsync($"    FAILED after {elapsed} ms: {ex.StatusCode}{code}: {ex.Status.Detail}");
        }
    }

    private string DescribeRoute(SiteXServer server, string party, string service)
    {
        var table = server.Routes.Current;
        if (!table.TryLookup(party, service, null, out var match))
        {
            return $"party {party} service {service}: no route (the call fails with NoRoute)";
        }

        var endpoints = string.Join(", ", match.Group.Endpoints.Select(Name));
        return $"party {party} service {service} -> {match.Group.Path} -> {endpoints}";
    }

    /// <summary>"127.0.0.1:9371 (site 10000's TLS gRPC port; mutual TLS with 9999.crt, party 10000 pinned)".</summary>
    private string Name(RouteDestination endpoint)
    {
        var config = endpoint.Config;
        var display = config.Display;
        var what = display == TlsAddressB ? $"site {_siteB.Party}'s TLS gRPC port"
            : display == TlsAddressA ? $"site {_siteA.Party}'s TLS gRPC port"
            : display == AddressB ? $"site {_siteB.Party}'s gRPC port"
            : display == AddressA ? $"site {_siteA.Party}'s gRPC port"
            : display == _sample.Address ? "the Echo sample"
            : null;
        var tls = !config.UseTls ? null
            : $"mutual TLS with {(config.CertChainFile is null ? "no client certificate" : Path.GetFileName(config.CertChainFile))}{(config.PeerParty is null ? "" : $", party {config.PeerParty} pinned")}";
        var notes = string.Join("; ", new[] { what, tls }.OfType<string>());
        return notes.Length == 0 ? display : $"{display} ({notes})";
    }

    private static string Milliseconds(TimeSpan elapsed) => elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>Stops watching (<see cref="Watch"/>) and waits for output in progress to end.</summary>
    public async Task StopAsync()
    {
        if (_watching)
        {
            _serverA.Routes.Changed -= OnChangedA;
            _serverB.Routes.Changed -= OnChangedB;
            _siteA.Handshakes.Recorded -= OnHandshake;
            _siteB.Handshakes.Recorded -= OnHandshake;
            _watching = false;
        }

        await _stopping.CancelAsync();
        await _gate.WaitAsync();
        _gate.Release();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _channel.Dispose();
        _stopping.Dispose();
        _gate.Dispose();
    }
}
