using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>The last step: a PTP <c>invoke</c> of <c>/sitex/ping</c> through the peer's gateway, over the very
/// connection the earlier steps opened, and what its failure means.</summary>
internal sealed partial class RouteCheck
{
    /// <summary>Signs the ping as the gateway would sign a call to <paramref name="Peer"/> (null: unsigned).</summary>
    private readonly record struct PingSigner(RequestTokens Tokens, string? Peer);

    private async Task<bool> RoundTripAsync(RouteDestination endpoint, Stream connection, string host, int port, IPEndPoint remote, string party, string self, PingSigner signer, CancellationToken cancellationToken)
    {
        var handed = 0;
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            ConnectTimeout = timeout,
            // The round trip uses the connection whose DNS, TCP and TLS were just checked, and no other.
            ConnectCallback = (_, _) => Interlocked.Exchange(ref handed, 1) == 0
                ? ValueTask.FromResult(connection)
                : ValueTask.FromException<Stream>(new IOException("the check uses one connection only")),
        };
        var probe = connection as HandshakeProbeStream;
        var headers = new List<KeyValuePair<string, string>>
        {
            new(PtpHeaders.TargetNodeId, party),
            new(PtpHeaders.SourceNodeId, self),
            new(PtpHeaders.TechProviderCode, "FATE"),
            new(PtpHeaders.SessionId, "sitex-check"),
            new(PtpHeaders.TraceId, $"sitex-check-{Guid.NewGuid():N}"),
        };
        if (signer.Peer is { } peer)
        {
            var (path, digest) = endpoint.Config.Protocol == EndpointProtocol.Grpc
                ? (PtpMethods.Invoke, signer.Tokens.GrpcBodyDigest(new Inbound()))
                : (InterconnClient.InvokeUri(endpoint).PathAndQuery, InterconnClient.BodyDigest(Google.Protobuf.ByteString.Empty, signer.Tokens.MaxSignedBodyBytes));
            signer.Tokens.SignInto(headers, peer, self, path, digest);
        }

        var started = Stopwatch.GetTimestamp();
        using var callTimeout = Timeout(cancellationToken);
        string code;
        string message;
        try
        {
            (code, message) = endpoint.Config.Protocol == EndpointProtocol.Grpc
                ? await GrpcPingAsync(handler, endpoint, host, port, headers, callTimeout.Token)
                : await HttpPingAsync(handler, endpoint, headers, callTimeout.Token);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            await StepAsync(Fail, "round trip", $"{endpoint.Display} does not serve PrivateTransferProtocol/invoke ({ex.Status.Detail}): it is not a gateway; is this a service's port, or the wrong port?");
            return false;
        }
        catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException or OperationCanceledException or PingException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            await StepAsync(Fail, "round trip", await ExplainAsync(ex, endpoint, probe, remote, host, cancellationToken));
            return false;
        }

        var elapsed = Millis(started);
        if (code == PtpCodes.Success && message.StartsWith("pong from ", StringComparison.Ordinal))
        {
            var from = message["pong from ".Length..];
            if (from == party)
            {
                await StepAsync(Pass, "round trip", $"invoke {LocalInvoke.PingPath} answered \"{message}\" in {elapsed}");
                return true;
            }

            await StepAsync(Fail, "round trip", $"answered by party {from}, not {party}: the route leads to another party's gateway, or that gateway routes {party} to itself");
            return false;
        }

        if (code.Length == 0 || code == PtpCodes.Success)
        {
            await StepAsync(Pass, "round trip", $"reached a gateway that is not SiteX (OSX?) in {elapsed}: it does not know {LocalInvoke.PingPath} (answered code \"{code}\", \"{Clip(message)}\"), so the path works up to that gateway but cannot be proven to party {party}");
            return true;
        }

        var meaning = code switch
        {
            PtpCodes.RouterError => $"the gateway has no route to party {party} (or its exchange has none)",
            PtpCodes.CycleRouteError => $"the call looped between gateways on its way to party {party}",
            PtpCodes.NetError => $"a gateway on the way could not reach the next hop for party {party}",
            PtpCodes.InvalidRequest when message.Contains("cannot be invoked", StringComparison.Ordinal) => "a SiteX gateway without /sitex/ping answered (an older version?)",
            PtpCodes.Unauthorized => "the peer gateway refused this site: its credentials (client certificate, request token) or the peer's permission rules",
            _ => "the gateway refused the ping",
        };
        await StepAsync(Fail, "round trip", $"{meaning}: it answered {code} \"{Clip(message)}\" in {elapsed}");
        return false;
    }

    private static async Task<(string Code, string Message)> GrpcPingAsync(SocketsHttpHandler handler, RouteDestination endpoint, string host, int port,
        List<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        var authority = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        using var channel = GrpcChannel.ForAddress($"{(endpoint.IsHttps ? "https" : "http")}://{authority}:{port}", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        var metadata = new Grpc.Core.Metadata();
        foreach (var (name, value) in headers)
        {
            metadata.Add(name, value);
        }

        metadata.Add(PtpHeaders.Uri, "grpcs://fedai.org" + LocalInvoke.PingPath); // the form OSX sends over gRPC
        var client = new PrivateTransferProtocol.PrivateTransferProtocolClient(channel);
        var reply = await client.invokeAsync(new Inbound(), metadata, cancellationToken: cancellationToken);
        return (reply.Code, reply.Message);
    }

    private static async Task<(string Code, string Message)> HttpPingAsync(SocketsHttpHandler handler, RouteDestination endpoint,
        List<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        using var client = new HttpMessageInvoker(handler, disposeHandler: false);
        var uri = InterconnClient.InvokeUri(endpoint);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = endpoint.IsHttps ? HttpVersionPolicy.RequestVersionOrHigher : HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent("{\"payload\":\"\"}"),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json;charset=UTF-8");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        request.Headers.TryAddWithoutValidation(PtpHeaders.Uri, LocalInvoke.PingPath);
        using var response = await client.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? code = null;
        string? message = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                code = json.RootElement.TryGetProperty("code", out var c) ? c.ToString() : null;
                message = json.RootElement.TryGetProperty("message", out var m) ? m.ToString() : json.RootElement.TryGetProperty("msg", out m) ? m.ToString() : null;
            }
        }
        catch (JsonException)
        {
            // Reported below.
        }

        if (code is null)
        {
            throw new PingException(response.StatusCode == HttpStatusCode.NotFound
                ? $"{uri} answered HTTP 404: it is not an interconnection invoke endpoint; the url's path should be {InterconnClient.InvokePath} (or empty)"
                : $"{uri} answered HTTP {(int)response.StatusCode} without a JSON \"code\" (\"{Clip(body)}\"): it is not a gateway's interconnection endpoint");
        }

        return (code, message ?? "");
    }

    /// <summary>Why the round trip failed: a TLS port behind a plain-text route, a refused client certificate, or the
    /// error as it came.</summary>
    private async Task<string> ExplainAsync(Exception ex, RouteDestination endpoint, HandshakeProbeStream? probe, IPEndPoint remote, string host, CancellationToken cancellationToken)
    {
        if (ex is PingException ping)
        {
            return ping.Message;
        }

        if (ex is OperationCanceledException || ex is RpcException { StatusCode: StatusCode.DeadlineExceeded or StatusCode.Cancelled })
        {
            return $"no answer within {Seconds(timeout)}";
        }

        var detail = Innermost(ex);
        if (probe is not null)
        {
            var first = probe.FirstBytes;
            if (first.Length > 0 && first[0] is 0x15 or 0x16)
            {
                return $"the peer answered plain text with a TLS record ({Convert.ToHexString(first[..Math.Min(first.Length, 7)])}): port {remote.Port} speaks TLS, but the route is plain text. " +
                       TlsAdvice(endpoint);
            }

            if (first.Length == 0 && probe.SawEndOfStream)
            {
                var presented = await ProbeTlsAsync(remote, host, cancellationToken);
                return presented is null
                    ? $"the peer closed the connection without answering ({detail})"
                    : $"the peer closed the plain-text connection without answering, and on a second try it completes a TLS handshake presenting {presented}: port {remote.Port} speaks TLS, but the route is plain text. {TlsAdvice(endpoint)}";
            }

            return $"{detail}";
        }

        var tls = endpoint.Tls;
        var advice = tls?.ClientCertificate is null
            ? "the peer may require a client certificate: set \"certChainFile\" and \"privateKeyFile\" (or a key store)"
            : $"the peer most likely refused this gateway's client certificate ({tls.ClientCertificate.Subject}, issued by {tls.ClientCertificate.Issuer}): does the peer trust that CA?";
        return $"the connection failed after the TLS handshake ({detail}); {advice}";
    }

    private static string TlsAdvice(RouteDestination endpoint) => endpoint.Config.Protocol == EndpointProtocol.Http
        ? "Use an https:// url (with \"caFile\", and \"certChainFile\"/\"privateKeyFile\" if the peer wants a client certificate), or the peer's plain-text port"
        : "Set \"useSSL\": true (with \"caFile\", and \"certChainFile\"/\"privateKeyFile\" if the peer wants a client certificate), or use the peer's plain-text port";

    /// <summary>Connects again and starts a TLS handshake only to see whether the port presents a certificate; the
    /// handshake is always abandoned (nothing is sent), so no verification is skipped.</summary>
    private async Task<string?> ProbeTlsAsync(IPEndPoint remote, string host, CancellationToken cancellationToken)
    {
        using var probeTimeout = Timeout(cancellationToken);
        using var socket = new Socket(remote.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        string? presented = null;
        try
        {
            await socket.ConnectAsync(remote, probeTimeout.Token);
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = IPAddress.TryParse(host, out _) ? "" : host,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    presented = certificate is null ? null : $"a certificate for {certificate.Subject}";
                    return false;
                },
            }, probeTimeout.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            // Expected: the handshake is refused on purpose once the certificate has been seen.
        }

        return presented;
    }

    /// <summary>Sends the HTTP/2 connection preface in plain text and names what answers, if anything.</summary>
    private async Task<string?> DescribePlainPortAsync(IPEndPoint remote, CancellationToken cancellationToken)
    {
        using var probeTimeout = Timeout(cancellationToken);
        using var socket = new Socket(remote.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(remote, probeTimeout.Token);
            byte[] preface = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0];
            await socket.SendAsync(preface, probeTimeout.Token);
            var buffer = new byte[16];
            var read = 0;
            while (read < 9)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), probeTimeout.Token);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            var bytes = buffer.AsSpan(0, read);
            return bytes.Length >= 9 && bytes[0] == 0 && bytes[3] == 0x04 ? "plain-text HTTP/2 (an h2c port answering with SETTINGS)"
                : bytes.StartsWith("HTTP/1."u8) ? "plain-text HTTP/1.1"
                : null;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The message of the innermost exception: the one that says what really happened.</summary>
    private static string Innermost(Exception ex)
    {
        if (ex is RpcException rpc)
        {
            return rpc.Status.DebugException is { } debug ? Innermost(debug) : rpc.Status.Detail;
        }

        var innermost = ex;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return innermost.Message;
    }

    private static string Clip(string text) => text.Length > 200 ? text[..200] + "..." : text;

    /// <summary>A round trip that reached something that is not a gateway's invoke endpoint.</summary>
    private sealed class PingException(string message) : Exception(message);
}
