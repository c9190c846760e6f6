using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace SiteX.Server.Security;

/// <summary>
/// One immutable snapshot of the TLS material: the server certificate (with key and chain) presented to peers and the
/// CAs that peers' client certificates must chain to. Swapped atomically on reload; a handshake reads it once. Old
/// snapshots are never disposed while connections may still use them: they are left to the garbage collector.
/// </summary>
internal sealed class TlsMaterial
{
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>The certificate with its chain, prepared once for every handshake.</summary>
    public required SslStreamCertificateContext CertificateContext { get; init; }

    /// <summary>The only roots a peer's certificate may chain to.</summary>
    public required X509Certificate2Collection TrustedAuthorities { get; init; }

    /// <summary>The hash of the files this snapshot was loaded from (<see cref="TlsFileSet.Hash"/>).</summary>
    public required byte[] FileHash { get; init; }

    /// <summary>Where the certificate came from, for logs.</summary>
    public required string Source { get; init; }

    public required string CaFile { get; init; }
}
