using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>The names a certificate carries: its subject alternative names (DNS, IP, URI) and the parties it names.</summary>
internal static class CertificateNames
{
    private const string SubjectAltNameOid = "2.5.29.17";

    /// <summary>The URI subject alternative names, in order. A malformed extension yields none.</summary>
    public static IReadOnlyList<string> Uris(X509Certificate2 certificate) =>
        [.. certificate.Extensions.Where(e => e.Oid?.Value == SubjectAltNameOid).SelectMany(SanUris.Enumerate)];

    /// <summary>The parties <paramref name="certificate"/> names, read from <paramref name="source"/>.</summary>
    public static IReadOnlyList<string> Parties(X509Certificate2 certificate, PeerIdentitySource source)
    {
        if (source == PeerIdentitySource.CommonName)
        {
            var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            return string.IsNullOrEmpty(cn) ? [] : [cn];
        }

        return [.. Uris(certificate)
            .Where(u => u.StartsWith(SiteCertificates.PartyUriPrefix, StringComparison.Ordinal))
            .Select(u => u[SiteCertificates.PartyUriPrefix.Length..])];
    }

    /// <summary>"DNS localhost, IP 127.0.0.1, URI urn:sitex:party:10000", or the subject when there are no SANs.</summary>
    public static string Describe(X509Certificate2 certificate)
    {
        var names = new List<string>();
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is not null)
        {
            try
            {
                names.AddRange(san.EnumerateDnsNames().Select(n => "DNS " + n));
                names.AddRange(san.EnumerateIPAddresses().Select(a => "IP " + a));
            }
            catch (CryptographicException)
            {
                // Unreadable names are left out.
            }
        }

        names.AddRange(Uris(certificate).Select(u => "URI " + u));
        return names.Count > 0 ? string.Join(", ", names) : $"no alternative names (subject {certificate.Subject})";
    }
}
