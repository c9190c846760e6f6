using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>What a TLS handshake with a next hop gave: the stream, and what was checked about the peer.</summary>
internal sealed record TlsHandshake(SslStream Stream, PeerCertificateReport Report);

/// <summary>
/// The client side of TLS towards one kind of next hop, as a route endpoint describes it: the client certificate
/// to present (PEM or PKCS#12), the CAs to trust (the route's <c>caFile</c>/<c>trustStoreFile</c> only, else the
/// system's roots), the name to expect (<c>hostname</c>, else the endpoint's host), and the party to expect
/// (<c>peer_party</c>). Loaded once per table version by <see cref="OutboundTlsLoader"/>; equal when
/// <see cref="Fingerprint"/> (the TLS fields and every file's content) is equal, so the connection pool keeps one
/// handler per distinct identity and renews it when a field or a file changes.
/// </summary>
/// <remarks>
/// Verification cannot be turned off: every connection checks the chain, the host name and the pinned party
/// (<see cref="PeerCertificateReport"/>). TLS 1.2 and 1.3 only. Revocation is not checked (no CRL or OCSP
/// endpoints exist between private federation CAs); rotate by replacing the files.
/// </remarks>
internal sealed class OutboundTls : IEquatable<OutboundTls>
{
    private static readonly List<SslApplicationProtocol> s_alpn = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];

    public OutboundTls(string fingerprint, X509Certificate2? clientCertificate, X509Certificate2Collection clientChain, X509Certificate2Collection? trustAnchors,
        string trustSource, string? hostname, string? peerParty, PeerIdentitySource peerIdentity, IReadOnlyList<string> files)
    {
        Fingerprint = fingerprint;
        ClientCertificate = clientCertificate;
        ClientChain = clientChain;
        TrustAnchors = trustAnchors;
        TrustSource = trustSource;
        Hostname = hostname;
        PeerParty = peerParty;
        PeerIdentity = peerIdentity;
        Files = files;
        ClientContext = clientCertificate is null ? null : SslStreamCertificateContext.Create(clientCertificate, clientChain, offline: true);
    }

    /// <summary>SHA-256 (hex) of the TLS fields and the content of every file they name.</summary>
    public string Fingerprint { get; }

    /// <summary>The certificate this gateway presents, with its private key; null for server-only TLS.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>Intermediate certificates sent after <see cref="ClientCertificate"/>.</summary>
    public X509Certificate2Collection ClientChain { get; }

    public SslStreamCertificateContext? ClientContext { get; }

    /// <summary>The only CAs a next hop's certificate may chain to, or null for the system's trusted roots.</summary>
    public X509Certificate2Collection? TrustAnchors { get; }

    /// <summary>Where the trust comes from, for messages: "caFile /etc/sitex/ca.crt", "the system's trusted roots".</summary>
    public string TrustSource { get; }

    public string? Hostname { get; }

    public string? PeerParty { get; }

    public PeerIdentitySource PeerIdentity { get; }

    /// <summary>Full paths of the files this identity was read from (watched for changes).</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>TLS with no files: the system's roots, no client certificate. Needs no I/O.</summary>
    public static OutboundTls WithoutFiles(EndpointConfig endpoint) =>
        new($"no-files|{endpoint.Hostname}|{endpoint.PeerParty}|{endpoint.PeerIdentity}", null, [], null, "the system's trusted roots",
            endpoint.Hostname, endpoint.PeerParty, endpoint.PeerIdentity, []);

    /// <summary>Opens a TCP connection to <paramref name="endpoint"/> and completes the TLS handshake (the
    /// <see cref="SocketsHttpHandler.ConnectCallback"/> of the connection pool).</summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var handshake = await HandshakeAsync(new NetworkStream(socket, ownsSocket: true), endpoint.Host, $"{endpoint.Host}:{endpoint.Port}", cancellationToken).ConfigureAwait(false);
        return handshake.Stream;
    }

    /// <summary>
    /// Runs the TLS handshake over <paramref name="transport"/> (owned: disposed on failure). Throws
    /// <see cref="NextHopTlsException"/> saying exactly what failed: the peer's certificate (chain, host, party), a
    /// peer that does not speak TLS, a peer that refused with an alert or closed the connection.
    /// </summary>
    public async Task<TlsHandshake> HandshakeAsync(Stream transport, string host, string endpointName, CancellationToken cancellationToken)
    {
        var probe = new HandshakeProbeStream(transport);
        var ssl = new SslStream(probe, leaveInnerStreamOpen: false);
        PeerCertificateReport? report = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = Hostname ?? host.Trim('[', ']'),
            ApplicationProtocols = s_alpn,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificateContext = ClientContext,
            AllowRenegotiation = false,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                report = PeerCertificateReport.Check(this, host, leaf, chain);
                return report.Valid;
            },
        };

        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw Explain(ex, probe, report, endpointName);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new TlsHandshake(ssl, report!);
    }

    private static NextHopTlsException Explain(Exception ex, HandshakeProbeStream probe, PeerCertificateReport? report, string endpoint)
    {
        if (report is { Valid: false })
        {
            return report.ToException(endpoint, ex);
        }

        var first = probe.FirstBytes;
        if (first.Length > 0 && first[0] != 0x16 && first[0] != 0x15)
        {
            return new NextHopTlsException(TlsFailureKind.NotTls,
                $"TLS handshake with {endpoint} failed: it answered the TLS ClientHello with {HandshakeProbeStream.DescribeNonTls(first)}: it is a plain-text port, not TLS",
                "it does not speak TLS on that port", ex);
        }

        if (first.Length >= 7 && first[0] == 0x15)
        {
            var alert = HandshakeProbeStream.AlertName(first[6]);
            return new NextHopTlsException(TlsFailureKind.Refused,
                $"TLS handshake with {endpoint} failed: it refused the handshake with TLS alert \"{alert}\"",
                $"it refused the TLS handshake ({alert})", ex);
        }

        if (first.Length == 0 && probe.SawEndOfStream)
        {
            return new NextHopTlsException(TlsFailureKind.PeerClosed,
                $"TLS handshake with {endpoint} failed: it closed the connection without answering the TLS ClientHello (a plain-text port that gave up on it, or a server that refuses this client)",
                "it closed the connection during the TLS handshake", ex);
        }

        var innermost = ex;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        var detail = ReferenceEquals(innermost, ex) ? ex.Message : $"{ex.Message} ({innermost.Message})";
        return new NextHopTlsException(TlsFailureKind.Failed, $"TLS handshake with {endpoint} failed: {detail}", "the TLS handshake failed", ex);
    }

    public bool Equals(OutboundTls? other) => other is not null && string.Equals(Fingerprint, other.Fingerprint, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as OutboundTls);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Fingerprint);

    public override string ToString() => $"TLS {Fingerprint[..Math.Min(12, Fingerprint.Length)]}";
}
