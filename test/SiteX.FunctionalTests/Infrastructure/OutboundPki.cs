using System.Net;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Security;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Certificates for one test, made at run time with <see cref="SiteCertificates"/> and written into the test's temp
/// directory: a CA that the routes trust, a second CA that they do not, and site certificates of either.
/// </summary>
internal sealed class OutboundPki
{
    private static readonly DateTimeOffset s_now = DateTimeOffset.UtcNow;
    private readonly string _directory;

    public OutboundPki(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        Ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-1), s_now.AddYears(1));
        OtherCa = SiteCertificates.CreateAuthority("other CA", s_now.AddDays(-1), s_now.AddYears(1));
        CaFile = Path.Combine(directory, "ca.crt");
        SiteCertificates.WriteCertificatePem(CaFile, Ca);
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 OtherCa { get; }

    /// <summary>The PEM file of <see cref="Ca"/>: a route's <c>caFile</c>.</summary>
    public string CaFile { get; }

    /// <summary>A site certificate for <paramref name="party"/> (default names: localhost and 127.0.0.1), signed by
    /// <paramref name="issuer"/> (default <see cref="Ca"/>).</summary>
    public static X509Certificate2 Site(X509Certificate2 issuer, string party, string[]? dns = null, IPAddress[]? addresses = null, SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256) =>
        SiteCertificates.CreateSite(issuer, party, dns ?? ["localhost"], addresses ?? [IPAddress.Loopback], s_now.AddDays(-1), s_now.AddDays(30), algorithm);

    public X509Certificate2 Site(string party, string[]? dns = null, IPAddress[]? addresses = null, SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256) =>
        Site(Ca, party, dns, addresses, algorithm);

    /// <summary>Writes <paramref name="certificate"/> as NAME.crt and NAME.key; returns both paths.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name, PemKeyFormat format = PemKeyFormat.Pkcs8)
    {
        var cert = Path.Combine(_directory, name + ".crt");
        var key = Path.Combine(_directory, name + ".key");
        SiteCertificates.WritePem(certificate, cert, key, format);
        return (cert, key);
    }

    public string WritePkcs12(X509Certificate2 certificate, string name, string? password)
    {
        var path = Path.Combine(_directory, name + ".p12");
        SiteCertificates.WritePkcs12(certificate, path, password);
        return path;
    }

    /// <summary>Replaces a certificate and key pair the way a rotation tool does: each file written beside the old one
    /// and renamed over it.</summary>
    public static void ReplacePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        var suffix = "." + Guid.NewGuid().ToString("N") + ".tmp";
        SiteCertificates.WritePem(certificate, certificatePath + suffix, keyPath + suffix);
        File.Move(keyPath + suffix, keyPath, overwrite: true);
        File.Move(certificatePath + suffix, certificatePath, overwrite: true);
    }

    /// <summary>A copy Kestrel can serve on every platform (its key imported from PKCS#12).</summary>
    public static X509Certificate2 ForServer(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
}
