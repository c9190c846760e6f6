using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Server.Configuration;
using SiteX.Server.Hosting;
using SiteX.Server.Security;

namespace SiteX.FunctionalTests.Security;

/// <summary>Bad TLS settings and files stop a gateway before it opens any port, with a message that names the setting,
/// the file and the problem.</summary>
public sealed class TlsStartupTests
{
    private static SiteXOptions Options(TempDirectory temp, TlsOptions tls) => new()
    {
        SelfParties = ["10000"],
        GrpcPort = 0,
        HttpPort = 0,
        AdminPort = 0,
        DataDir = temp.Combine("data"),
        AccessLogEnabled = false,
        Tls = tls,
    };

    [Theory]
    [InlineData("missing-key-file", "Tls:KeyFile", "missing.key: file not found")]
    [InlineData("key-of-another-certificate", "Tls:KeyFile", "does not match the certificate in Tls:CertFile")]
    [InlineData("no-key-at-all", "Tls:CertFile", "holds no private key and Tls:KeyFile is not set")]
    [InlineData("certificate-file-not-pem", "Tls:CertFile", "holds no certificate")]
    [InlineData("ca-file-without-certificate", "Tls:CaFile", "holds no certificate; it must be a PEM bundle of CA certificates")]
    [InlineData("ca-file-not-set", "Tls:CaFile", "is not set")]
    [InlineData("encrypted-key-without-password", "Tls:KeyFile", "the private key is encrypted; set Tls:KeyPassword")]
    [InlineData("pkcs12-wrong-password", "Tls:Pkcs12File", "the password (Tls:Pkcs12Password) is wrong")]
    [InlineData("expired-certificate", "Tls:CertFile", "the certificate expired on")]
    [InlineData("unreadable-certificate", "Tls:CertFile", "cannot be read")]
    public void Create_WithBadTlsFiles_Throws_NamingTheSettingFileAndProblem(string scenario, string setting, string problem)
    {
        using var temp = new TempDirectory();
        using var pki = new TestPki(temp.Combine("pki"));
        var ca = pki.Authority("CA");
        var tls = pki.Options(pki.Site(ca, "10000"), pki.WriteCa("ca.pem", ca));
        switch (scenario)
        {
            case "missing-key-file":
                tls.KeyFile = pki.Path("missing.key");
                break;
            case "key-of-another-certificate":
                tls.KeyFile = pki.WritePem(pki.Site(ca, "10000"), "other").Key;
                break;
            case "no-key-at-all":
                tls.KeyFile = null;
                break;
            case "certificate-file-not-pem":
                File.WriteAllText(tls.CertFile!, "this is not a certificate");
                break;
            case "ca-file-without-certificate":
                File.WriteAllText(tls.CaFile!, File.ReadAllText(tls.KeyFile!)); // a key, but no certificate
                break;
            case "ca-file-not-set":
                tls.CaFile = null;
                break;
            case "encrypted-key-without-password":
                using (var key = System.Security.Cryptography.ECDsa.Create())
                {
                    key.ImportFromPem(File.ReadAllText(tls.KeyFile!));
                    File.WriteAllText(tls.KeyFile!, key.ExportEncryptedPkcs8PrivateKeyPem("pw",
                        new System.Security.Cryptography.PbeParameters(System.Security.Cryptography.PbeEncryptionAlgorithm.Aes128Cbc, System.Security.Cryptography.HashAlgorithmName.SHA256, 1000)));
                }

                break;
            case "pkcs12-wrong-password":
                tls.Pkcs12File = pki.Path("server.p12");
                SiteCertificates.WritePkcs12(pki.Site(ca, "10000"), tls.Pkcs12File, "right");
                (tls.CertFile, tls.KeyFile, tls.Pkcs12Password) = (null, null, "wrong");
                break;
            case "expired-certificate":
                (tls.CertFile, tls.KeyFile) = pki.WritePem(pki.Site(ca, "10000", notBefore: TestPki.Now.AddDays(-10), notAfter: TestPki.Now.AddDays(-1)), "expired");
                break;
            case "unreadable-certificate":
                tls.CertFile = pki.Directory; // a directory
                break;
        }

        var error = Assert.Throws<TlsConfigurationException>(() => SiteXServer.Create(Options(temp, tls), logging => { }));

        Assert.StartsWith(setting, error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("right", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_WithInvalidTlsSettings_ListsEveryProblem()
    {
        using var temp = new TempDirectory();
        var tls = new TlsOptions { CertFile = "c.pem", KeyFile = "k.pem", CaFile = "ca.pem", IdentitySource = "email", GrpcTlsPort = 70000, TrustedRelays = ["bad party!"] };

        var error = Assert.Throws<OptionsValidationException>(() => SiteXServer.Create(Options(temp, tls), logging => { }));

        Assert.Contains(error.Failures, f => f.StartsWith("Tls:IdentitySource", StringComparison.Ordinal) && f.Contains("uri-san, cn, dns-san", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Tls:GrpcTlsPort", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Tls:TrustedRelays", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_WithoutACertificate_OpensNoTlsPort_AndSaysSo()
    {
        using var temp = new TempDirectory();
        var logs = new SignalingLoggerProvider();
        await using var server = SiteXServer.Create(Options(temp, new TlsOptions()), logging => logging.AddProvider(logs));
        await server.StartAsync().DefaultTimeout();

        Assert.Equal(0, server.GrpcTlsPort);
        Assert.Equal(0, server.HttpsPort);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1400);
        await server.StopAsync().DefaultTimeout();
    }
}
