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
/// What <c>sitex demo</c> shows once everything runs: the layout, two Echo calls through both gateways with the
/// route each gateway takes, and what to try next. After a route table edit it sends the calls again.
/// </summary>
internal sealed class DemoTour : IAsyncDisposable
{
    private const string UnaryPath = "/" + DemoRouteTables.EchoGrpcService + "/Unary";

    private readonly DemoSite _siteA;
    private readonly SiteXServer _serverA;
    private readonly DemoSite _siteB;
    private readonly SiteXServer _serverB;
    private readonly RunningSample _sample;
    private readonly TextWriter _output;
    private readonly GrpcChannel _channel;
    private readonly Echo.EchoClient _client;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private int _callNumber;
    private bool _subscribed;

    public DemoTour(DemoSite siteA, SiteXServer serverA, DemoSite siteB, SiteXServer serverB, RunningSample sample, TextWriter output)
    {
        _siteA = siteA;
        _serverA = serverA;
        _siteB = siteB;
        _serverB = serverB;
        _sample = sample;
        _output = output;
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{serverA.GrpcPort}");
        _client = new Echo.EchoClient(_channel);
    }

    private string AddressA => $"127.0.0.1:{_serverA.GrpcPort}";

    private string AddressB => $"127.0.0.1:{_serverB.GrpcPort}";

    public async Task PrintLayoutAsync()
    {
        var w = _output;
        await w.WriteLineAsync("SiteX demo: two gateways and a sample service, all in this process on 127.0.0.1.");
        await w.WriteLineAsync($"  site {_siteA.Party,-6} gRPC {AddressA,-16} admin http://127.0.0.1:{_serverA.AdminPort}");
        await w.WriteLineAsync($"  site {_siteB.Party,-6} gRPC {AddressB,-16} admin http://127.0.0.1:{_serverB.AdminPort}");
        await w.WriteLineAsync($"  Echo sample gRPC {_sample.Address,-16} {DemoRouteTables.EchoGrpcService}, service \"{DemoRouteTables.EchoServiceName}\" of party {_siteB.Party}");
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

    public async Task PrintNextStepsAsync(string cli)
    {
        var w = _output;
        var admin = $"http://127.0.0.1:{_serverA.AdminPort}";
        await w.WriteLineAsync("Try next (copy and paste):");
        // Both hosts' "SiteX" meters live in one process and OpenTelemetry listens by meter name, so each /metrics
        // shows both sites' series; say so rather than let the numbers look doubled.
        await w.WriteLineAsync($"  curl {admin}/metrics          # Prometheus metrics; in this one-process demo both sites' series show up here");
        await w.WriteLineAsync($"  curl {admin}/healthz          # its route table version and self parties");
        await w.WriteLineAsync($"  tail -f {_siteA.FlowLogPath}  # one line per call, OSX flow.log format");
        await w.WriteLineAsync($"  {cli} routes validate {_siteB.TablePath}");
        await w.WriteLineAsync($"  Edit {_siteB.TablePath}: set the \"{DemoRouteTables.EchoServiceName}\" port to 1 and save;");
        await w.WriteLineAsync("    the demo sends both calls again and shows the failure. Put the port back to recover.");
        await w.WriteLineAsync($"  grpcurl -plaintext -import-path proto -proto samples/echo.proto -d '{{\"text\":\"hi\"}}' {AddressA} {DemoRouteTables.EchoGrpcService}/Unary");
        await w.WriteLineAsync("    (from the repository root, if grpcurl is installed; routed by the service binding)");
    }

    /// <summary>After a gateway applies an edited route table, says so and sends the calls again.</summary>
    public void ResendOnRouteTableChanges()
    {
        _serverA.Routes.Changed += OnChangedA;
        _serverB.Routes.Changed += OnChangedB;
        _subscribed = true;
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
        if (_serverA.Routes.Current.TryLookup(party, service, null, out var first) && first.Group.Endpoints.Any(e => e.Display == AddressB))
        {
            await w.WriteLineAsync($"    site {_siteB.Party,-6} {DescribeRoute(_serverB, party, service)}");
        }

        var request = new EchoRequest { Text = $"hello #{number} from the SiteX demo", EchoMetadata = true };
        var started = Stopwatch.GetTimestamp();
        try
        {
            var reply = await _client.UnaryAsync(request, headers, DateTime.UtcNow.AddSeconds(10), cancellationToken);
            var elapsed = Milliseconds(Stopwatch.GetElapsedTime(started));
            var via = reply.Metadata.TryGetValue(SiteXHeaders.Via, out var v) ? v.Replace(",", " > ", StringComparison.Ordinal) : "?";
            var firstCall = number == 1 ? " (includes opening the connections)" : "";
            await w.WriteLineAsync($"    reply \"{reply.Text}\" served_by {reply.ServedBy}, via {via}, round trip {elapsed} ms{firstCall}");
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            var elapsed = Milliseconds(Stopwatch.GetElapsedTime(started));
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

        var endpoints = string.Join(", ", match.Group.Endpoints.Select(e => Name(e.Display)));
        return $"party {party} service {service} -> {match.Group.Path} -> {endpoints}";
    }

    private string Name(string endpoint) =>
        endpoint == AddressB ? $"{endpoint} (site {_siteB.Party}'s gateway)"
        : endpoint == AddressA ? $"{endpoint} (site {_siteA.Party}'s gateway)"
        : endpoint == _sample.Address ? $"{endpoint} (the Echo sample)"
        : endpoint;

    private static string Milliseconds(TimeSpan elapsed) => elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>Stops resending on route table edits and waits for a resend in progress to end.</summary>
    public async Task StopAsync()
    {
        if (_subscribed)
        {
            _serverA.Routes.Changed -= OnChangedA;
            _serverB.Routes.Changed -= OnChangedB;
            _subscribed = false;
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
