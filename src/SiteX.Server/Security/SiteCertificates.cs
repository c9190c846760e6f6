using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SiteX.Server.Security;

/// <summary>Key type of a generated certificate.</summary>
public enum SiteKeyAlgorithm
{
    /// <summary>ECDSA P-256: small and fast; the default.</summary>
    EcdsaP256 = 0,
    /// <summary>RSA 2048: what older Java stacks expect; the only type that can be written as PKCS#1.</summary>
    Rsa2048 = 1,
}

/// <summary>How a private key is written to a PEM file.</summary>
public enum PemKeyFormat
{
    /// <summary><c>-----BEGIN PRIVATE KEY-----</c> (PKCS#8).</summary>
    Pkcs8 = 0,
    /// <summary><c>-----BEGIN RSA PRIVATE KEY-----</c> (PKCS#1, RSA keys only).</summary>
    Pkcs1 = 1,
}

/// <summary>
/// Creates a private certificate authority and site certificates for demos and tests (<c>sitex certs</c>, the test
/// suites). A site certificate names its party three ways, so any identity source can be configured: the subject
/// common name, a URI SAN <c>urn:sitex:party:&lt;id&gt;</c>, and (with the host names and addresses given) DNS and IP
/// SANs for hostname verification. Not for production key management.
/// </summary>
public static class SiteCertificates
{
    /// <summary>The URI SAN prefix that names a party.</summary>
    public const string PartyUriPrefix = "urn:sitex:party:";

    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>A self-signed CA certificate (with its private key) valid from <paramref name="notBefore"/> to
    /// <paramref name="notAfter"/>.</summary>
    public static X509Certificate2 CreateAuthority(string name, DateTimeOffset notBefore, DateTimeOffset notAfter, SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256)
    {
        var subject = new X500DistinguishedName($"CN={Escape(name)}, O=SiteX test CA");
        using var key = CreateKey(algorithm);
        var request = CreateRequest(subject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    /// <summary>A certificate for <paramref name="party"/>'s gateway, signed by <paramref name="authority"/>, usable as
    /// server and client certificate, with its private key.</summary>
    public static X509Certificate2 CreateSite(X509Certificate2 authority, string party, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses,
        DateTimeOffset notBefore, DateTimeOffset notAfter, SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256)
    {
        ArgumentNullException.ThrowIfNull(authority);
        if (!authority.HasPrivateKey)
        {
            throw new ArgumentException("the authority certificate has no private key", nameof(authority));
        }

        var subject = new X500DistinguishedName($"CN={Escape(party)}, O=SiteX site {Escape(party)}");
        using var key = CreateKey(algorithm);
        var request = CreateRequest(subject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([s_serverAuth, s_clientAuth], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri(PartyUriPrefix + party));
        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
        }

        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        // A certificate may not outlive its issuer.
        var end = notAfter < authority.NotAfter ? notAfter : new DateTimeOffset(authority.NotAfter);
        using var signed = request.Create(authority.SubjectName, SignatureGenerator(authority, out var issuerKey), notBefore, end, serial);
        issuerKey.Dispose();
        return algorithm == SiteKeyAlgorithm.Rsa2048
            ? signed.CopyWithPrivateKey((RSA)key)
            : signed.CopyWithPrivateKey((ECDsa)key);
    }

    /// <summary>Writes <paramref name="certificate"/> (followed by <paramref name="chain"/>, e.g. an intermediate) to
    /// <paramref name="certificatePath"/> and its private key to <paramref name="keyPath"/>, both PEM. The key file is
    /// created readable by its owner only where the platform allows.</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath, PemKeyFormat keyFormat = PemKeyFormat.Pkcs8, params X509Certificate2[] chain)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var pem = new StringBuilder(certificate.ExportCertificatePem()).Append('\n');
        foreach (var extra in chain)
        {
            pem.Append(extra.ExportCertificatePem()).Append('\n');
        }

        File.WriteAllText(certificatePath, pem.ToString());
        WritePrivate(keyPath, ExportKeyPem(certificate, keyFormat));
    }

    /// <summary>Writes only the certificate (a CA bundle entry), PEM.</summary>
    public static void WriteCertificatePem(string path, params X509Certificate2[] certificates) =>
        File.WriteAllText(path, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));

    /// <summary>Writes <paramref name="certificate"/> with its key (and <paramref name="chain"/>) as PKCS#12.</summary>
    public static void WritePkcs12(X509Certificate2 certificate, string path, string? password, params X509Certificate2[] chain)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var collection = new X509Certificate2Collection(certificate);
        collection.AddRange(chain);
        WritePrivate(path, collection.Export(X509ContentType.Pkcs12, password)!);
    }

    /// <summary>Loads a CA certificate and its private key from PEM files (as written by <see cref="WritePem"/>), to
    /// sign more site certificates. Throws <see cref="ArgumentException"/> with a reason when the pair is unusable.</summary>
    public static X509Certificate2 LoadAuthority(string certificatePath, string keyPath)
    {
        X509Certificate2 authority;
        try
        {
            authority = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (CryptographicException ex)
        {
            throw new ArgumentException($"{certificatePath} and {keyPath} are not a PEM certificate and its private key: {ex.Message}", nameof(keyPath), ex);
        }

        var constraints = authority.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
        {
            authority.Dispose();
            throw new ArgumentException($"{certificatePath} is not a CA certificate (no basic constraints CA:true); give the CA's certificate, not a site's", nameof(certificatePath));
        }

        return authority;
    }

    private static string ExportKeyPem(X509Certificate2 certificate, PemKeyFormat format)
    {
        if (certificate.GetRSAPrivateKey() is { } rsa)
        {
            using (rsa)
            {
                return format == PemKeyFormat.Pkcs1 ? rsa.ExportRSAPrivateKeyPem() : rsa.ExportPkcs8PrivateKeyPem();
            }
        }

        if (format == PemKeyFormat.Pkcs1)
        {
            throw new ArgumentException("PKCS#1 can only hold RSA keys; create the certificate with SiteKeyAlgorithm.Rsa2048", nameof(format));
        }

        using var ecdsa = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no private key", nameof(certificate));
        return ecdsa.ExportPkcs8PrivateKeyPem();
    }

    private static void WritePrivate(string path, string text) => WritePrivate(path, Encoding.ASCII.GetBytes(text));

    private static void WritePrivate(string path, byte[] bytes)
    {
        using var stream = OperatingSystem.IsWindows()
            ? new FileStream(path, FileMode.Create, FileAccess.Write)
            : new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        stream.Write(bytes);
    }

    /// <summary>Signs with the authority's key, whatever its type (a site key may differ from its CA's).</summary>
    private static X509SignatureGenerator SignatureGenerator(X509Certificate2 authority, out IDisposable key)
    {
        if (authority.GetECDsaPrivateKey() is { } ecdsa)
        {
            key = ecdsa;
            return X509SignatureGenerator.CreateForECDsa(ecdsa);
        }

        var rsa = authority.GetRSAPrivateKey() ?? throw new ArgumentException("the authority's key is neither ECDSA nor RSA", nameof(authority));
        key = rsa;
        return X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1);
    }

    private static AsymmetricAlgorithm CreateKey(SiteKeyAlgorithm algorithm) =>
        algorithm == SiteKeyAlgorithm.Rsa2048 ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private static CertificateRequest CreateRequest(X500DistinguishedName subject, AsymmetricAlgorithm key) => key switch
    {
        RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        ECDsa ecdsa => new CertificateRequest(subject, ecdsa, HashAlgorithmName.SHA256),
        _ => throw new ArgumentOutOfRangeException(nameof(key)),
    };

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal)
        .Replace("=", "\\=", StringComparison.Ordinal).Replace("+", "\\+", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
