using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using SiteX.Server.Configuration;
using SiteX.Server.Security;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Certificates made at run time into a test's temporary directory (nothing is checked in): CAs, site certificates
/// naming a party, the PEM and PKCS#12 files a gateway loads, and TLS clients of the inter-site ports that present a
/// site certificate and record the server certificate they were shown.
/// </summary>
internal sealed class TestPki : IDisposable
{
    private readonly List<X509Certificate2> _owned = [];

    public TestPki(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    public string Directory { get; }

    public static DateTimeOffset Now => DateTimeOffset.UtcNow;

    public X509Certificate2 Authority(string name, DateTimeOffset? notAfter = null) =>
        Own(SiteCertificates.CreateAuthority(name, Now.AddDays(-2), notAfter ?? Now.AddYears(1)));

    /// <summary>A site certificate for <paramref name="party"/> valid for 127.0.0.1 and localhost.</summary>
    public X509Certificate2 Site(X509Certificate2 authority, string party, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null,
        SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256, string[]? dnsNames = null) =>
        Own(SiteCertificates.CreateSite(authority, party, dnsNames ?? ["localhost"], [IPAddress.Loopback], notBefore ?? Now.AddDays(-1), notAfter ?? Now.AddDays(90), algorithm));

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    /// <summary>Writes the certificate and key as PEM files named <paramref name="name"/>.crt and .key.</summary>
    public (string Cert, string Key) WritePem(X509Certificate2 certificate, string name, PemKeyFormat format = PemKeyFormat.Pkcs8)
    {
        var (cert, key) = (Path(name + ".crt"), Path(name + ".key"));
        SiteCertificates.WritePem(certificate, cert, key, format);
        return (cert, key);
    }

    public string WriteCa(string name, params X509Certificate2[] authorities)
    {
        var path = Path(name);
        SiteCertificates.WriteCertificatePem(path, authorities);
        return path;
    }

    /// <summary>TLS settings of a gateway serving <paramref name="certificate"/> and trusting <paramref name="caFile"/>,
    /// on free loopback ports.</summary>
    public TlsOptions Options(X509Certificate2 certificate, string caFile, string name = "server")
    {
        var (cert, key) = WritePem(certificate, name);
        return new TlsOptions { CertFile = cert, KeyFile = key, CaFile = caFile, GrpcTlsPort = 0, HttpsPort = 0, Bind = "127.0.0.1" };
    }

    public void Dispose()
    {
        foreach (var certificate in _owned)
        {
            certificate.Dispose();
        }
    }

    private X509Certificate2 Own(X509Certificate2 certificate)
    {
        _owned.Add(certificate);
        return certificate;
    }
}

/// <summary>A TLS client of a gateway's inter-site ports, as a peer gateway: presents <see cref="ClientCertificate"/>
/// (or none), trusts only <see cref="TrustedAuthorities"/> for the server, and records each server certificate it
/// was shown and each connection it opened.</summary>
internal sealed class PeerClient : IDisposable
{
    private readonly SocketsHttpHandler _handler;
    private int _connections;

    public PeerClient(X509Certificate2? clientCertificate, params X509Certificate2[] trustedAuthorities)
    {
        ClientCertificate = clientCertificate;
        TrustedAuthorities = trustedAuthorities;
        _handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
                RemoteCertificateValidationCallback = ValidateServer,
            },
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            EnableMultipleHttp2Connections = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref _connections);
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        Http = new HttpClient(_handler, disposeHandler: false) { Timeout = TaskTimeoutExtensions.DefaultTimeoutTimeSpan };
    }

    public X509Certificate2? ClientCertificate { get; }

    public X509Certificate2[] TrustedAuthorities { get; }

    /// <summary>Thumbprints of the server certificates presented, in handshake order.</summary>
    public ConcurrentQueue<string> ServerThumbprints { get; } = new();

    /// <summary>TCP connections this client opened.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public HttpClient Http { get; }

    /// <summary>A gRPC channel over this client's connections to <c>https://127.0.0.1:<paramref name="port"/></c>.</summary>
    public GrpcChannel Channel(int port) => GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions
    {
        HttpHandler = _handler,
        DisposeHttpClient = false,
        MaxReceiveMessageSize = null,
        MaxSendMessageSize = null,
    });

    private bool ValidateServer(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is not X509Certificate2 server || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        ServerThumbprints.Enqueue(server.Thumbprint);
        using var ours = new X509Chain();
        ours.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        ours.ChainPolicy.CustomTrustStore.AddRange(TrustedAuthorities);
        ours.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return ours.Build(server);
    }

    public void Dispose()
    {
        Http.Dispose();
        _handler.Dispose();
    }
}
