using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SiteX.Server.Configuration;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>
/// The steps of <c>sitex check PARTY</c>. Each step prints one line, ✓ (passed), ✗ (failed, with the reason and
/// what to do) or – (not applicable); a failed step ends the checks of its endpoint, since the later ones depend on
/// it. The route table is read and its TLS files loaded exactly as <c>sitex serve</c> would.
/// </summary>
internal sealed partial class RouteCheck(TextWriter output, TimeSpan timeout)
{
    private const string Pass = "✓";
    private const string Fail = "✗";
    private const string Skip = "–";

    public async Task<bool> RunAsync(SiteXOptions options, string party, string service, CancellationToken cancellationToken)
    {
        await output.WriteLineAsync($"sitex check {party}{(service == RouteTableParser.DefaultKey ? "" : $" --service {service}")}");
        var table = await LoadTableAsync(options);
        if (table is null)
        {
            return false;
        }

        if (!RouteTableParser.IsValidId(party) || !RouteTableParser.IsValidId(service))
        {
            await StepAsync(Fail, "route", $"\"{RouteTableParser.Truncate(party)}\" / \"{RouteTableParser.Truncate(service)}\" is not a valid party id and service name (1-128 letters, digits, '.', '_' or '-')");
            return false;
        }

        if (!table.TryLookup(party, service, null, out var match))
        {
            var why = table.Parties.Contains(party, StringComparer.Ordinal)
                ? $"party \"{party}\" has neither a \"{service}\" nor a \"default\" service"
                : $"the table has neither party \"{party}\" nor a \"default\" party";
            await StepAsync(Fail, "route", $"no route to party {party} service {service}: {why}; add it to {table.Source}");
            return false;
        }

        var group = match.Group;
        RequestTokens tokens;
        try
        {
            tokens = new RequestTokens(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RequestTokens>.Instance);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            await StepAsync(Fail, "token keys", string.Join("; ", ex.Failures));
            return false;
        }

        var via = match.ViaDefaultParty ? $" (the \"default\" party: an exchange that relays to {party})" : "";
        var leadsTo = group.IsPeerGateway ? "a peer gateway" : $"the service {group.Service} itself";
        await StepAsync(Pass, "route", $"party {party} service {service} -> {group.Path}{via}: {group.Endpoints.Count} endpoint(s), leading to {leadsTo}");
        if (table.IsSelf(party))
        {
            await output.WriteLineAsync($"  (party {party} is this site's own party)");
        }

        var passed = true;
        for (var i = 0; i < group.Endpoints.Count; i++)
        {
            var endpoint = group.Endpoints[i];
            await output.WriteLineAsync($"endpoint {i + 1}/{group.Endpoints.Count}: {endpoint.Display} ({(endpoint.Config.Protocol == EndpointProtocol.Grpc ? "gRPC" : "HTTP")}, {(endpoint.IsHttps ? "TLS" : "plain text")})");
            passed &= await CheckEndpointAsync(table, group, endpoint, party, tokens, cancellationToken);
        }

        await output.WriteLineAsync(passed ? "all steps passed" : "some steps failed (see ✗ above)");
        return passed;
    }

    private async Task<RouteTable?> LoadTableAsync(SiteXOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.RouteTable))
        {
            await StepAsync(Fail, "route table", "none configured (--route-table, \"routeTable\" in --config, or SITEX_ROUTETABLE); a gateway started like this has an empty table and no routes");
            return null;
        }

        var path = Path.GetFullPath(options.RouteTable);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await StepAsync(Fail, "route table", $"cannot read {path}: {ex.Message}");
            return null;
        }

        var parsed = RouteTableParser.Parse(text, out var errors);
        var config = parsed is null ? null : OutboundTlsLoader.Load(parsed, Path.GetDirectoryName(path)!, out errors);
        if (config is null)
        {
            await StepAsync(Fail, "route table", $"{path} has {errors.Count} error(s); `sitex serve` would not start with it (or keep its previous table):");
            foreach (var e in errors)
            {
                await output.WriteLineAsync($"    {e}");
            }

            return null;
        }

        var table = RouteTable.Create(config, options.SelfParties, 1, path);
        await StepAsync(Pass, "route table", $"{path}: self party {string.Join(",", table.SelfPartyList)}, {table.RuleCount} route(s), TLS files readable");
        return table;
    }

    private async Task<bool> CheckEndpointAsync(RouteTable table, RouteGroup group, RouteDestination endpoint, string party, RequestTokens tokens, CancellationToken cancellationToken)
    {
        var isPeerGateway = group.IsPeerGateway;
        var (host, port) = HostAndPort(endpoint);
        var name = $"{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}";

        // DNS.
        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
            await StepAsync(Pass, "DNS", $"{host} is an IP address (no lookup)");
        }
        else
        {
            using var dnsTimeout = Timeout(cancellationToken);
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, dnsTimeout.Token);
            }
            catch (SocketException ex)
            {
                await StepAsync(Fail, "DNS", $"{host} does not resolve ({ex.SocketErrorCode}: {ex.Message}); check the host name in the route, or this machine's resolver");
                return false;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await StepAsync(Fail, "DNS", $"no answer for {host} within {Seconds(timeout)}; check this machine's resolver");
                return false;
            }

            if (addresses.Length == 0)
            {
                await StepAsync(Fail, "DNS", $"{host} resolves to no address");
                return false;
            }

            await StepAsync(Pass, "DNS", $"{host} -> {string.Join(", ", addresses.Select(a => a.ToString()))}");
        }

        // TCP.
        var connected = await ConnectAsync(addresses, port, cancellationToken);
        if (connected is null)
        {
            return false;
        }

        Stream transport = new NetworkStream(connected.Value.Socket, ownsSocket: true);
        try
        {
            // TLS.
            if (endpoint.IsHttps)
            {
                var tls = await CheckTlsAsync(endpoint, transport, host, name, connected.Value.Remote, party, cancellationToken);
                transport = tls ?? Stream.Null;
                if (tls is null)
                {
                    return false;
                }
            }
            else
            {
                var exposed = table.IsSelf(party) ? "" : $"; calls to party {party} cross the network unencrypted unless this link is private";
                await StepAsync(Skip, "TLS", $"not used: the route is plain text{exposed}");
                transport = new HandshakeProbeStream(transport); // to recognise a TLS peer in the round trip
            }

            // Round trip.
            if (!isPeerGateway)
            {
                await StepAsync(Skip, "round trip", $"not tried: the route leads to a service, not to a gateway (a ping is a gateway's uri)");
                return true;
            }

            var self = table.SelfPartyList.Count > 0 ? table.SelfPartyList[0] : "9999";
            var signer = tokens.SignerFor(group, endpoint, isPeerGateway);
            if (signer is not null)
            {
                await StepAsync(Pass, "token", $"the round trip carries a request token signed with the key shared with party {signer}");
            }
            else if (tokens.Enabled)
            {
                var peer = endpoint.Config.PeerParty ?? (group.Party == RouteTableParser.DefaultKey ? "(unknown: set peer_party on the endpoint)" : group.Party);
                await StepAsync(Skip, "token", $"no key shared with party {peer}: calls go without a request token, so the peer must accept this site's client certificate");
            }

            var owned = transport;
            transport = Stream.Null; // the round trip owns it now
            return await RoundTripAsync(endpoint, owned, host, port, connected.Value.Remote, party, self, new PingSigner(tokens, signer), cancellationToken);
        }
        finally
        {
            await transport.DisposeAsync();
        }
    }

    private async Task<(Socket Socket, IPEndPoint Remote)?> ConnectAsync(IPAddress[] addresses, int port, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var address in addresses)
        {
            var remote = new IPEndPoint(address, port);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var connectTimeout = Timeout(cancellationToken);
            var started = Stopwatch.GetTimestamp();
            try
            {
                await socket.ConnectAsync(remote, connectTimeout.Token);
                await StepAsync(Pass, "TCP", $"connected to {remote} in {Millis(started)}");
                return (socket, remote);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                failures.Add(ex.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => $"{remote} refused the connection: nothing listens on port {port} there (is the peer's gateway running? is the port right?)",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"{remote} is unreachable ({ex.SocketErrorCode}): no network path to it from this machine",
                    _ => $"{remote}: {ex.SocketErrorCode}: {ex.Message}",
                });
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                failures.Add($"{remote} did not answer within {Seconds(timeout)} (a firewall dropping packets, or a wrong address)");
            }
        }

        await StepAsync(Fail, "TCP", string.Join("; ", failures));
        return null;
    }

    private async Task<Stream?> CheckTlsAsync(RouteDestination endpoint, Stream transport, string host, string name, IPEndPoint remote, string party, CancellationToken cancellationToken)
    {
        var tls = endpoint.Tls!;
        var client = tls.ClientCertificate is { } certificate
            ? $"client certificate {certificate.Subject} (valid until {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}{(certificate.NotAfter < DateTime.Now ? ", EXPIRED" : "")})"
            : "no client certificate";
        await output.WriteLineAsync($"  · TLS settings: {client}; trusting {tls.TrustSource}; expecting host {tls.Hostname ?? host}{(tls.PeerParty is null ? "" : $" and party {tls.PeerParty}")}");
        using var handshakeTimeout = Timeout(cancellationToken);
        TlsHandshake handshake;
        try
        {
            handshake = await tls.HandshakeAsync(transport, host, name, handshakeTimeout.Token);
        }
        catch (NextHopTlsException ex) when (ex.Report is { } report)
        {
            await StepAsync(Fail, "TLS handshake", "aborted by this side: the peer's certificate failed a check below");
            await ReportCertificateAsync(report, party);
            return null;
        }
        catch (NextHopTlsException ex)
        {
            var advice = ex.Kind switch
            {
                TlsFailureKind.NotTls => "; the route uses TLS (useSSL, grpcs or https) but this port speaks plain text: point the route at the peer's TLS port, or drop TLS if the link is private",
                TlsFailureKind.PeerClosed => await DescribePlainPortAsync(remote, cancellationToken) is { } plain
                    ? $"; a second look finds {plain} on that port: it is a plain-text port; point the route at the peer's TLS port"
                    : "",
                TlsFailureKind.Refused => "; the peer did not accept this handshake (its TLS versions, or it requires and refused a client certificate)",
                _ => "",
            };
            await StepAsync(Fail, "TLS handshake", ex.Message + advice);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await StepAsync(Fail, "TLS handshake", $"no handshake with {name} within {Seconds(timeout)}");
            return null;
        }

        var stream = handshake.Stream;
        var alpn = stream.NegotiatedApplicationProtocol.ToString();
        var alpnOk = endpoint.Config.Protocol != EndpointProtocol.Grpc || alpn == "h2";
        await StepAsync(alpnOk ? Pass : Fail, "TLS handshake", $"{Protocol(stream.SslProtocol)}, ALPN {(alpn.Length == 0 ? "none" : alpn)}{(alpnOk ? "" : "; a gRPC port over TLS must agree to HTTP/2 (h2)")}");
        await ReportCertificateAsync(handshake.Report, party);
        if (!alpnOk)
        {
            await stream.DisposeAsync();
            return null;
        }

        return stream;
    }

    private async Task ReportCertificateAsync(PeerCertificateReport report, string party)
    {
        await StepAsync(report.ChainValid ? Pass : Fail, "certificate chain", report.ChainValid ? report.ChainText : $"{report.Subject}: {report.ChainText}");
        await StepAsync(report.HostValid ? Pass : Fail, "host name", report.HostText);
        if (report.PinnedParty is null)
        {
            await StepAsync(Skip, "peer party", $"not pinned; add \"peer_party\": \"{party}\" to the endpoint to require that its certificate names party {party}");
        }
        else
        {
            await StepAsync(report.PartyValid ? Pass : Fail, "peer party", report.PartyText!);
        }
    }

    private Task StepAsync(string mark, string step, string text) => output.WriteLineAsync($"  {mark} {step}: {text}");

    private CancellationTokenSource Timeout(CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(timeout);
        return source;
    }

    private static (string Host, int Port) HostAndPort(RouteDestination endpoint)
    {
        if (endpoint.Config.Protocol == EndpointProtocol.Http && endpoint.Config.Url is { } url)
        {
            var uri = new Uri(url);
            return (uri.Host.Trim('[', ']'), uri.Port);
        }

        return (endpoint.Config.Host!.Trim('[', ']'), endpoint.Config.Port);
    }

    private static string Protocol(System.Security.Authentication.SslProtocols protocol) => protocol switch
    {
        System.Security.Authentication.SslProtocols.Tls13 => "TLS 1.3",
        System.Security.Authentication.SslProtocols.Tls12 => "TLS 1.2",
        _ => protocol.ToString(),
    };

    private static string Millis(long started) =>
        $"{Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms";

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";
}
