namespace SiteX.Server.Configuration;

/// <summary>
/// The inter-site TLS ports (the <c>Tls</c> section of the settings): a gRPC port (HTTP/2, ALPN <c>h2</c>) and an HTTPS
/// port (ALPN <c>h2</c> and <c>http/1.1</c>) for peer gateways, with client certificates (mTLS) required by default.
/// The ports open only when a certificate is configured (<see cref="CertFile"/> or <see cref="Pkcs12File"/>).
/// Certificate and CA files are watched and reloaded on change. Every setting is documented in
/// <c>docs/configuration.md</c>.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>Inter-site gRPC port (TLS, HTTP/2 only). 0 picks a free port.</summary>
    public int GrpcTlsPort { get; set; } = 9371;

    /// <summary>Inter-site HTTPS port (TLS, HTTP/1.1 and HTTP/2): the HTTP plane for peers. 0 picks a free port.</summary>
    public int HttpsPort { get; set; } = 8809;

    /// <summary>Address the TLS ports bind to. Peers reach them from other networks, hence every address by default.</summary>
    public string Bind { get; set; } = "0.0.0.0";

    /// <summary>PEM file with this gateway's certificate, followed by its intermediates (the chain sent to peers). It
    /// may also hold the private key.</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM file with the private key of <see cref="CertFile"/>: PKCS#8 (<c>BEGIN PRIVATE KEY</c>, or
    /// <c>BEGIN ENCRYPTED PRIVATE KEY</c> with <see cref="KeyPassword"/>), PKCS#1 (<c>BEGIN RSA PRIVATE KEY</c>) or SEC1
    /// (<c>BEGIN EC PRIVATE KEY</c>).</summary>
    public string? KeyFile { get; set; }

    /// <summary>Password of an encrypted PKCS#8 key.</summary>
    public string? KeyPassword { get; set; }

    /// <summary>PKCS#12 (.p12/.pfx) file with the certificate, its key and its chain: the alternative to
    /// <see cref="CertFile"/> and <see cref="KeyFile"/>.</summary>
    public string? Pkcs12File { get; set; }

    /// <summary>Password of <see cref="Pkcs12File"/>.</summary>
    public string? Pkcs12Password { get; set; }

    /// <summary>PEM bundle of the CAs whose certificates peers may present. Only these are trusted (never the system
    /// roots). Required when the TLS ports are open.</summary>
    public string? CaFile { get; set; }

    /// <summary>Whether peers must present a client certificate: <c>Required</c> (the default) or <c>Optional</c>.</summary>
    public ClientCertificateRequirement ClientCertificate { get; set; } = ClientCertificateRequirement.Required;

    /// <summary>Which field of a peer's certificate names its party: <c>uri-san</c> (a URI SAN starting with
    /// <see cref="PartyUriPrefix"/>), <c>cn</c> (the subject common name) or <c>dns-san</c> (a DNS SAN, ending with
    /// <see cref="PartyDnsSuffix"/> when set).</summary>
    public string IdentitySource { get; set; } = PeerIdentitySources.UriSan;

    /// <summary>Prefix of the URI SAN that names the party for <c>uri-san</c>.</summary>
    public string PartyUriPrefix { get; set; } = "urn:sitex:party:";

    /// <summary>For <c>dns-san</c>: the DNS SAN ending with this suffix names the party (the suffix removed). Empty: the
    /// certificate's only DNS SAN is the party.</summary>
    public string PartyDnsSuffix { get; set; } = "";

    /// <summary>Whether a call may come in with no proof of its party at all (possible only with
    /// <see cref="ClientCertificate"/> <c>Optional</c>: no client certificate and no signed request token). Off by
    /// default: such a call is refused as <c>unauthenticated</c>. On, its source is taken as claimed, as a Java OSX
    /// with one-way TLS does.</summary>
    public bool AllowUnprovenPeers { get; set; }

    /// <summary>Parties (such as an exchange) whose connections may carry calls whose source is another party.</summary>
    public List<string> TrustedRelays { get; set; } = [];

    /// <summary>Quiet time after the last file event before the certificate files are re-read.</summary>
    public TimeSpan ReloadDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>True when a certificate is configured, which opens the TLS ports.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertFile) || !string.IsNullOrWhiteSpace(Pkcs12File);
}

/// <summary>Whether the inter-site TLS ports require a client certificate.</summary>
public enum ClientCertificateRequirement
{
    /// <summary>A connection without a valid client certificate is refused during the handshake.</summary>
    Required = 0,

    /// <summary>A connection may come without a certificate; its calls must then prove their party with a signed
    /// request token, unless <see cref="TlsOptions.AllowUnprovenPeers"/> lets them in unproven with their source taken
    /// as claimed. A certificate that is presented must still be valid.</summary>
    Optional = 1,
}

/// <summary>The names accepted by <see cref="TlsOptions.IdentitySource"/>.</summary>
public static class PeerIdentitySources
{
    public const string UriSan = "uri-san";
    public const string CommonName = "cn";
    public const string DnsSan = "dns-san";

    public static IReadOnlyList<string> All { get; } = [UriSan, CommonName, DnsSan];
}
