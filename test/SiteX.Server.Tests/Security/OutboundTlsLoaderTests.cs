using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Routing;
using SiteX.Server.Security;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Security;

/// <summary>Reading the TLS files a route names: what loads, and the error (path and fix) for each kind of bad file.</summary>
public sealed class OutboundTlsLoaderTests : IDisposable
{
    private static readonly DateTimeOffset s_now = DateTimeOffset.UtcNow;
    private readonly TempDirectory _temp = new();
    private readonly X509Certificate2 _ca = SiteCertificates.CreateAuthority("test CA", s_now.AddDays(-1), s_now.AddYears(1));

    public OutboundTlsLoaderTests()
    {
        SiteCertificates.WriteCertificatePem(_temp.Combine("ca.crt"), _ca);
    }

    [Theory]
    [InlineData(SiteKeyAlgorithm.EcdsaP256, PemKeyFormat.Pkcs8)]
    [InlineData(SiteKeyAlgorithm.Rsa2048, PemKeyFormat.Pkcs8)]
    [InlineData(SiteKeyAlgorithm.Rsa2048, PemKeyFormat.Pkcs1)]
    public void Load_PemClientCertificate_RelativeToTheTableDirectory(SiteKeyAlgorithm algorithm, PemKeyFormat format)
    {
        using var site = Site("9999", algorithm);
        SiteCertificates.WritePem(site, _temp.Combine("site.crt"), _temp.Combine("site.key"), format);

        var tls = LoadSingle("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key", "caFile": "ca.crt", "peer_party": "10000" }""");

        Assert.Equal(site.Thumbprint, tls.ClientCertificate!.Thumbprint);
        Assert.True(tls.ClientCertificate.HasPrivateKey);
        Assert.Equal(_ca.Thumbprint, Assert.Single(tls.TrustAnchors!).Thumbprint);
        Assert.Equal("10000", tls.PeerParty);
        Assert.Equal([_temp.Combine("ca.crt"), _temp.Combine("site.crt"), _temp.Combine("site.key")], tls.Files.Order(StringComparer.Ordinal));
        Assert.Contains(_temp.Combine("ca.crt"), tls.TrustSource, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Pkcs12KeyStore_WithItsPassword()
    {
        using var site = Site("9999");
        SiteCertificates.WritePkcs12(site, _temp.Combine("site.p12"), "s3cret");

        var tls = LoadSingle("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true, "keyStoreFile": "site.p12", "keyStorePassword": "s3cret" }""");

        Assert.Equal(site.Thumbprint, tls.ClientCertificate!.Thumbprint);
        Assert.Null(tls.TrustAnchors); // no caFile or trust store: the system's roots
        Assert.Equal("the system's trusted roots", tls.TrustSource);
    }

    [Fact]
    public void Load_SameFilesTwice_SameIdentity_ChangedFileContent_NewIdentity()
    {
        using var first = Site("9999");
        SiteCertificates.WritePem(first, _temp.Combine("site.crt"), _temp.Combine("site.key"));
        const string Endpoint = """{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key", "caFile": "ca.crt" }""";

        var one = LoadSingle(Endpoint);
        var two = LoadSingle(Endpoint);
        using var second = Site("9999");
        SiteCertificates.WritePem(second, _temp.Combine("site.crt"), _temp.Combine("site.key"));
        var three = LoadSingle(Endpoint);

        Assert.Equal(one, two);
        Assert.NotEqual(one, three);
        Assert.Equal(second.Thumbprint, three.ClientCertificate!.Thumbprint);
    }

    [Fact]
    public void Load_TlsWithoutFiles_NeedsNoIo()
    {
        var tls = LoadSingle("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "hostname": "peer.example" }""");

        Assert.Null(tls.ClientCertificate);
        Assert.Empty(tls.Files);
        Assert.Equal("peer.example", tls.Hostname);
    }

    [Fact]
    public void Load_MissingFile_ErrorNamesTheFieldAndTheFullPath()
    {
        var errors = LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "caFile": "nowhere/ca.crt" }""");

        var error = Assert.Single(errors);
        Assert.Equal("route_table.10000.default[0].caFile", error.Path);
        Assert.Contains(_temp.Combine("nowhere", "ca.crt"), error.Message, StringComparison.Ordinal);
        Assert.Contains("relative paths are relative to the route table's directory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_KeyOfAnotherCertificate_IsRefused()
    {
        using var site = Site("9999");
        using var other = Site("9999");
        SiteCertificates.WritePem(site, _temp.Combine("site.crt"), _temp.Combine("unused.key"));
        SiteCertificates.WritePem(other, _temp.Combine("other.crt"), _temp.Combine("site.key"));

        var error = Assert.Single(LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key" }"""));

        Assert.Equal("route_table.10000.default[0].privateKeyFile", error.Path);
        Assert.Contains("does not belong to the certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Pkcs1KeyWithAnEcdsaCertificate_IsRefused()
    {
        using var ecdsa = Site("9999");
        using var rsa = Site("9999", SiteKeyAlgorithm.Rsa2048);
        SiteCertificates.WritePem(ecdsa, _temp.Combine("site.crt"), _temp.Combine("unused.key"));
        SiteCertificates.WritePem(rsa, _temp.Combine("rsa.crt"), _temp.Combine("site.key"), PemKeyFormat.Pkcs1);

        var error = Assert.Single(LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key" }"""));

        Assert.Contains("PKCS#1 can only hold RSA keys", error.Message, StringComparison.Ordinal);
        Assert.Contains("ECDSA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Pkcs1LabelOnANonRsaKey_IsRefused()
    {
        using var ecdsa = Site("9999");
        SiteCertificates.WritePem(ecdsa, _temp.Combine("site.crt"), _temp.Combine("site.key"));
        var relabelled = File.ReadAllText(_temp.Combine("site.key")).Replace("PRIVATE KEY", "RSA PRIVATE KEY", StringComparison.Ordinal);
        File.WriteAllText(_temp.Combine("site.key"), relabelled);

        var error = Assert.Single(LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key" }"""));

        Assert.Contains("does not hold a readable RSA key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_EncryptedKey_IsRefusedWithAFix()
    {
        using var site = Site("9999");
        SiteCertificates.WritePem(site, _temp.Combine("site.crt"), _temp.Combine("plain.key"));
        using var key = site.GetECDsaPrivateKey()!;
        File.WriteAllText(_temp.Combine("site.key"), key.ExportEncryptedPkcs8PrivateKeyPem("pw", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)));

        var error = Assert.Single(LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "site.crt", "privateKeyFile": "site.key" }"""));

        Assert.Contains("is encrypted", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "cannot be opened without a password; set \"keyStorePassword\"")]
    [InlineData("wrong", "the password is wrong")]
    public void Load_KeyStoreWithoutTheRightPassword_IsRefused(string? password, string expected)
    {
        using var site = Site("9999");
        SiteCertificates.WritePkcs12(site, _temp.Combine("site.p12"), "s3cret");
        var passwordField = password is null ? "" : $", \"keyStorePassword\": \"{password}\"";

        var error = Assert.Single(LoadErrors($$"""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true, "keyStoreFile": "site.p12"{{passwordField}} }"""));

        Assert.Equal("route_table.10000.default[0].keyStoreFile", error.Path);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_JavaKeyStore_IsRefusedWithTheConversionCommand()
    {
        File.WriteAllBytes(_temp.Combine("site.jks"), [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]);

        var error = Assert.Single(LoadErrors("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true, "keyStoreFile": "site.jks", "keyStorePassword": "x" }"""));

        Assert.Contains("keytool -importkeystore", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "useKeyStore": true }""", "keyStoreFile", "is missing")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "keyStoreFile": "x.p12" }""", "keyStoreFile", "\"useKeyStore\" is not true")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "certChainFile": "ca.crt" }""", "privateKeyFile", "needs both")]
    [InlineData("""{ "ip": "10.0.0.2", "port": 9371, "useSSL": true, "caFile": "empty.crt" }""", "caFile", "holds no certificate")]
    public void Load_IncompleteTlsFields_AreErrors(string endpoint, string field, string expected)
    {
        File.WriteAllText(_temp.Combine("empty.crt"), "nothing here\n");

        var error = Assert.Single(LoadErrors(endpoint));

        Assert.Equal($"route_table.10000.default[0].{field}", error.Path);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CertificateNames_SiteCertificate_NamesItsPartyBothWays()
    {
        using var site = Site("10000");

        Assert.Equal(["10000"], CertificateNames.Parties(site, PeerIdentitySource.UriSan));
        Assert.Equal(["10000"], CertificateNames.Parties(site, PeerIdentitySource.CommonName));
        Assert.Equal("DNS localhost, IP 127.0.0.1, URI urn:sitex:party:10000", CertificateNames.Describe(site));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _temp.Dispose();
    }

    private X509Certificate2 Site(string party, SiteKeyAlgorithm algorithm = SiteKeyAlgorithm.EcdsaP256) =>
        SiteCertificates.CreateSite(_ca, party, ["localhost"], [IPAddress.Loopback], s_now.AddDays(-1), s_now.AddDays(30), algorithm);

    private OutboundTls LoadSingle(string endpoint)
    {
        var loaded = OutboundTlsLoader.Load(Parse(endpoint), _temp.Path, out var errors);
        Assert.Empty(errors);
        return loaded!.Rules[0].Endpoints[0].Tls!;
    }

    private IReadOnlyList<RouteTableError> LoadErrors(string endpoint)
    {
        Assert.Null(OutboundTlsLoader.Load(Parse(endpoint), _temp.Path, out var errors));
        return errors;
    }

    private static RouteTableConfig Parse(string endpoint)
    {
        var config = RouteTableParser.Parse($$"""{ "route_table": { "10000": { "default": [ {{endpoint}} ] } }, "self_party": [ "9999" ] }""", out var errors);
        Assert.Empty(errors);
        return config!;
    }
}
