using System.Security.Cryptography.X509Certificates;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex certs</c> as a real process: the files a mutual TLS demo needs. Key file modes are checked where
/// files have them (not on Windows).</summary>
public sealed class CertsCommandTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task CertsDemo_WritesACaAndOneCertificatePerParty_KeysOwnerOnly_ChainsVerify()
    {
        var dir = Temp.Combine("certs");

        var (exit, stdout) = await RunAsync("demo", ["certs", "demo", "--parties", "9999,10000", "--out", dir]);

        Assert.Equal(0, exit);
        foreach (var name in (string[])["ca.key", "9999.key", "10000.key"])
        {
            Assert.Equal(OwnerOnly, ModeOf(Path.Combine(dir, name)));
        }

        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(dir, "ca.crt"));
        foreach (var party in (string[])["9999", "10000"])
        {
            using var site = X509Certificate2.CreateFromPemFile(Path.Combine(dir, $"{party}.crt"), Path.Combine(dir, $"{party}.key"));
            Assert.True(site.HasPrivateKey);
            Assert.Equal(party, site.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
            Assert.True(site.MatchesHostname("localhost") && site.MatchesHostname("127.0.0.1"));
            Assert.Contains($"urn:sitex:party:{party}", System.Text.Encoding.ASCII.GetString(site.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().RawData), StringComparison.Ordinal);
            Assert.True(Chains(site, ca), $"{party}.crt does not chain to ca.crt");
            Assert.Contains($"wrote {Path.Combine(dir, $"{party}.key")}", stdout, StringComparison.Ordinal);
        }

        Assert.Contains($"\"caFile\": \"{Path.Combine(dir, "ca.crt")}\", \"peer_party\": \"10000\"", stdout, StringComparison.Ordinal);
        Assert.Contains("sitex check", stdout, StringComparison.Ordinal);

        // The snippet it prints is a route table the gateway accepts, TLS files included.
        var table = WriteFile("route_table.json", $$"""
            { "self_party": ["9999"], "route_table": { "10000": { "default": [ { "ip": "127.0.0.1", "port": 9371, "useSSL": true,
              "certChainFile": "{{Path.Combine(dir, "9999.crt")}}", "privateKeyFile": "{{Path.Combine(dir, "9999.key")}}", "caFile": "{{Path.Combine(dir, "ca.crt")}}", "peer_party": "10000" } ] } } }
            """);
        var (validated, validation) = await RunAsync("validate", ["routes", "validate", table]);
        Assert.True(validated == 0, validation);
        Assert.Contains("10000/default -> tls 127.0.0.1:9371 (client 9999, trusting its CA file, peer party 10000)", validation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CertsSite_FromAnExistingCa_Pkcs1AndPkcs12_WithTheNamesAsked()
    {
        var dir = Temp.Combine("certs");
        Assert.Equal(0, (await RunAsync("ca", ["certs", "ca", "--out", dir, "--name", "Org CA"])).Exit);
        string[] site = ["certs", "site", "--ca", Path.Combine(dir, "ca.crt"), "--ca-key", Path.Combine(dir, "ca.key"), "--dns", "gw.example", "--ip", "10.0.0.5", "--days", "10", "--out", dir];

        var (pkcs1, _) = await RunAsync("pkcs1", [.. site, "--party", "10001", "--pkcs1"]);
        var (pkcs12, stdout) = await RunAsync("pkcs12", [.. site, "--party", "10002", "--pkcs12", "--password", "store-pw"]);

        Assert.Equal((0, 0), (pkcs1, pkcs12));
        Assert.StartsWith("-----BEGIN RSA PRIVATE KEY-----", await File.ReadAllTextAsync(Path.Combine(dir, "10001.key")), StringComparison.Ordinal);
        using var rsa = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "10001.crt"), Path.Combine(dir, "10001.key"));
        Assert.True(rsa.MatchesHostname("gw.example") && rsa.MatchesHostname("10.0.0.5") && !rsa.MatchesHostname("localhost"));
        Assert.InRange(rsa.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddDays(9.9), DateTime.UtcNow.AddDays(10.1));
        Assert.Equal("CN=Org CA, O=SiteX test CA", rsa.Issuer);
        Assert.Equal(OwnerOnly, ModeOf(Path.Combine(dir, "10002.p12")));
        using var store = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(dir, "10002.p12"), "store-pw");
        Assert.True(store.HasPrivateKey);
        Assert.Contains("\"useKeyStore\": true", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CertsDemo_ExistingFiles_RefusedWithoutForce_ReplacedOwnerOnlyWithIt()
    {
        var dir = Temp.Combine("certs");
        Assert.Equal(0, (await RunAsync("first", ["certs", "demo", "--parties", "9999", "--out", dir])).Exit);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(dir, "9999.key"), OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        var before = await File.ReadAllTextAsync(Path.Combine(dir, "9999.key"));

        var refused = StartSitex("again", ["certs", "demo", "--parties", "9999", "--out", dir]);
        Assert.Equal(2, await refused.WaitForExitAsync());
        Assert.Contains("exists; choose another --out, or add --force", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(Path.Combine(dir, "9999.key")));

        Assert.Equal(0, (await RunAsync("forced", ["certs", "demo", "--parties", "9999", "--out", dir, "--force"])).Exit);
        Assert.NotEqual(before, await File.ReadAllTextAsync(Path.Combine(dir, "9999.key")));
        Assert.Equal(OwnerOnly, ModeOf(Path.Combine(dir, "9999.key")));
    }

    private async Task<(int Exit, string Stdout)> RunAsync(string name, string[] args)
    {
        var process = StartSitex(name, args);
        var exit = await process.WaitForExitAsync();
        Output.WriteLine(process.Describe());
        return (exit, process.StandardOutput);
    }

    /// <summary>The file's mode; on Windows, where files have none, what the test expects.</summary>
    private static UnixFileMode ModeOf(string path) => OperatingSystem.IsWindows() ? OwnerOnly : File.GetUnixFileMode(path);

    private static bool Chains(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
