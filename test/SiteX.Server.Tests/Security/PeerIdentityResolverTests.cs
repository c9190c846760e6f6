using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Configuration;
using SiteX.Server.Security;

namespace SiteX.Server.Tests.Security;

public sealed class PeerIdentityResolverTests
{
    private static readonly DateTimeOffset s_now = DateTimeOffset.UtcNow;

    private static X509Certificate2 Site(string party, params string[] dnsNames)
    {
        using var ca = SiteCertificates.CreateAuthority("CA", s_now.AddDays(-1), s_now.AddYears(1));
        return SiteCertificates.CreateSite(ca, party, dnsNames, [IPAddress.Loopback], s_now.AddDays(-1), s_now.AddDays(30));
    }

    /// <summary>A self-signed certificate with exactly the given subject and URI SANs.</summary>
    private static X509Certificate2 WithUris(string subject, params string[] uris)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (uris.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var uri in uris)
            {
                san.AddUri(new Uri(uri));
            }

            request.CertificateExtensions.Add(san.Build());
        }

        return request.CreateSelfSigned(s_now.AddDays(-1), s_now.AddDays(1));
    }

    [Theory]
    [InlineData(PeerIdentitySources.UriSan)]
    [InlineData(PeerIdentitySources.CommonName)]
    public void Resolve_SiteCertificate_NamesItsParty(string source)
    {
        using var certificate = Site("9999", "localhost");

        var party = new PeerIdentityResolver(new TlsOptions { IdentitySource = source }).Resolve(certificate, out var problem);

        Assert.Equal("9999", party);
        Assert.Null(problem);
    }

    [Fact]
    public void Resolve_DnsSanWithSuffix_StripsTheSuffix_AndIgnoresOtherNames()
    {
        using var certificate = Site("9999", "localhost", "9999.sites.example");

        var party = new PeerIdentityResolver(new TlsOptions { IdentitySource = PeerIdentitySources.DnsSan, PartyDnsSuffix = ".sites.example" }).Resolve(certificate, out _);

        Assert.Equal("9999", party);
    }

    [Fact]
    public void Resolve_DnsSanWithoutSuffix_RefusesSeveralNames()
    {
        using var certificate = Site("9999", "localhost", "gateway.example");

        var party = new PeerIdentityResolver(new TlsOptions { IdentitySource = PeerIdentitySources.DnsSan }).Resolve(certificate, out var problem);

        Assert.Null(party);
        Assert.Contains("more than one party", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_UriSanWithAnotherPrefix_IsConfigurable()
    {
        using var certificate = WithUris("CN=ignored", "spiffe://fl.example/party/10000");

        var party = new PeerIdentityResolver(new TlsOptions { PartyUriPrefix = "spiffe://fl.example/party/" }).Resolve(certificate, out _);

        Assert.Equal("10000", party);
    }

    [Theory]
    [InlineData(new[] { "https://example.org/x" }, "no URI SAN starts with")]
    [InlineData(new[] { "urn:sitex:party:9999", "urn:sitex:party:8888" }, "more than one party")]
    [InlineData(new[] { "urn:sitex:party:a%20b" }, "not a valid party id")]
    public void Resolve_UriSan_RefusesCertificatesThatDoNotNameExactlyOneValidParty(string[] uris, string expected)
    {
        using var certificate = WithUris("CN=9999", uris);

        var party = new PeerIdentityResolver(new TlsOptions()).Resolve(certificate, out var problem);

        Assert.Null(party);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }
}
