using System.Net;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Security;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Security;

public sealed class SiteCertificatesTests
{
    private static readonly DateTimeOffset s_now = DateTimeOffset.UtcNow;

    [Theory]
    [InlineData(SiteKeyAlgorithm.EcdsaP256, PemKeyFormat.Pkcs8)]
    [InlineData(SiteKeyAlgorithm.Rsa2048, PemKeyFormat.Pkcs8)]
    [InlineData(SiteKeyAlgorithm.Rsa2048, PemKeyFormat.Pkcs1)]
    public void SiteCertificate_WrittenAsPem_LoadsWithItsKey_AndChainsToItsAuthorityOnly(SiteKeyAlgorithm algorithm, PemKeyFormat format)
    {
        using var temp = new TempDirectory();
        using var ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-1), s_now.AddYears(1));
        using var otherCa = SiteCertificates.CreateAuthority("other CA", s_now.AddDays(-1), s_now.AddYears(1));
        using var site = SiteCertificates.CreateSite(ca, "9999", ["localhost"], [IPAddress.Loopback], s_now.AddDays(-1), s_now.AddDays(30), algorithm);

        SiteCertificates.WritePem(site, temp.Combine("site.crt"), temp.Combine("site.key"), format);
        using var loaded = X509Certificate2.CreateFromPemFile(temp.Combine("site.crt"), temp.Combine("site.key"));

        Assert.True(loaded.HasPrivateKey);
        Assert.Equal("9999", loaded.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        var san = loaded.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains(SiteCertificates.PartyUriPrefix + "9999", System.Text.Encoding.ASCII.GetString(san.RawData), StringComparison.Ordinal);
        Assert.True(Chains(loaded, ca));
        Assert.False(Chains(loaded, otherCa));
        Assert.Contains(format == PemKeyFormat.Pkcs1 ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY", File.ReadAllText(temp.Combine("site.key")), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(temp.Combine("site.key")));
        }
    }

    [Fact]
    public void ExpiredSiteCertificate_DoesNotChain()
    {
        using var ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-30), s_now.AddYears(1));
        using var expired = SiteCertificates.CreateSite(ca, "9999", [], [], s_now.AddDays(-20), s_now.AddDays(-10));

        Assert.False(Chains(expired, ca));
    }

    [Fact]
    public void Pkcs12_RoundTripsWithPassword()
    {
        using var temp = new TempDirectory();
        using var ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-1), s_now.AddYears(1));
        using var site = SiteCertificates.CreateSite(ca, "10000", ["localhost"], [], s_now.AddDays(-1), s_now.AddDays(30));

        SiteCertificates.WritePkcs12(site, temp.Combine("site.p12"), "secret", ca);
        using var loaded = X509CertificateLoader.LoadPkcs12FromFile(temp.Combine("site.p12"), "secret");

        Assert.True(loaded.HasPrivateKey);
        Assert.Equal(site.Thumbprint, loaded.Thumbprint);
    }

    [Fact]
    public void Pkcs1_RefusesAnEcdsaKey_WithAReason()
    {
        using var temp = new TempDirectory();
        using var ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-1), s_now.AddYears(1));
        using var site = SiteCertificates.CreateSite(ca, "9999", [], [], s_now.AddDays(-1), s_now.AddDays(30));

        var error = Assert.Throws<ArgumentException>(() => SiteCertificates.WritePem(site, temp.Combine("a.crt"), temp.Combine("a.key"), PemKeyFormat.Pkcs1));
        Assert.Contains("RSA", error.Message, StringComparison.Ordinal);
    }

    private static bool Chains(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
