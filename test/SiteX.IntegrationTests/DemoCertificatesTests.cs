using System.Net;
using System.Security.Cryptography.X509Certificates;
using SiteX.Cli.Commands;
using SiteX.Server.Security;
using SiteX.Tests.Common;

namespace SiteX.IntegrationTests;

/// <summary>The certificates of <c>sitex demo</c> (in process): a good set is reused as it is, a set the gateways
/// could not use (or would warn about) is made anew, whole.</summary>
public sealed class DemoCertificatesTests : IDisposable
{
    private static readonly string[] s_parties = ["9999", "10000"];

    private readonly TempDirectory _temp = new("sitex-demo-certs-");

    private string Directory => _temp.Combine("tls");

    [Fact]
    public async Task EnsureAsync_GoodSet_ReusesItUnchanged()
    {
        // Arrange
        await MakeSetAsync();
        var before = await File.ReadAllTextAsync(Path.Combine(Directory, "10000.crt"));

        // Act
        var certificates = await DemoCertificates.EnsureAsync(Directory, s_parties, TextWriter.Null);

        // Assert
        Assert.NotNull(certificates);
        Assert.Equal("reused from an earlier run", certificates.Origin);
        Assert.Equal(before, await File.ReadAllTextAsync(Path.Combine(Directory, "10000.crt")));
    }

    [Fact]
    public async Task EnsureAsync_MissingKey_MakesTheWholeSetAnew()
    {
        // Arrange
        await MakeSetAsync();
        var oldCa = await File.ReadAllTextAsync(Path.Combine(Directory, "ca.crt"));
        File.Delete(Path.Combine(Directory, "9999.key"));

        // Act
        var certificates = await DemoCertificates.EnsureAsync(Directory, s_parties, TextWriter.Null);

        // Assert
        Assert.NotNull(certificates);
        Assert.Equal($"made anew: {Path.Combine(Directory, "9999.key")} is missing", certificates.Origin);
        Assert.NotEqual(oldCa, await File.ReadAllTextAsync(Path.Combine(Directory, "ca.crt")));
        AssertUsable(certificates);
    }

    [Fact]
    public async Task EnsureAsync_SiteCertificateWithinTheExpiryWarning_MakesTheWholeSetAnew()
    {
        // Arrange: site 10000's certificate, from the set's own CA, has 20 days left (gateways warn under 30).
        await MakeSetAsync();
        ReplaceSite10000(ca => ca, DateTimeOffset.UtcNow.AddDays(20));

        // Act
        var certificates = await DemoCertificates.EnsureAsync(Directory, s_parties, TextWriter.Null);

        // Assert
        Assert.NotNull(certificates);
        Assert.StartsWith($"made anew: {Path.Combine(Directory, "10000.crt")} expires ", certificates.Origin, StringComparison.Ordinal);
        Assert.True(certificates.NotAfter > DateTime.UtcNow.AddDays(300), $"new set valid until {certificates.NotAfter:u}");
        AssertUsable(certificates);
    }

    [Fact]
    public async Task TryLoad_SiteCertificateFromAnotherCa_IsNotReused()
    {
        // Arrange
        await MakeSetAsync();
        var now = DateTimeOffset.UtcNow;
        using var otherCa = SiteCertificates.CreateAuthority("other CA", now.AddDays(-1), now.AddYears(1));
        ReplaceSite10000(_ => otherCa, now.AddDays(200));

        // Act
        var certificates = DemoCertificates.TryLoad(Directory, s_parties, now, out var problem);

        // Assert
        Assert.Null(certificates);
        Assert.StartsWith($"{Path.Combine(Directory, "10000.crt")} does not chain to {Path.Combine(Directory, "ca.crt")}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsureAsync_DirectoryCannotBeCreated_SaysWhichAndReturnsNull()
    {
        // Arrange: a file where the directory should be.
        await File.WriteAllTextAsync(Directory, "not a directory");
        using var error = new StringWriter();

        // Act
        var certificates = await DemoCertificates.EnsureAsync(Directory, s_parties, error);

        // Assert
        Assert.Null(certificates);
        Assert.StartsWith($"sitex demo: cannot create {Directory} for the demo certificates: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("(check --data-dir)", error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => _temp.Dispose();

    private async Task MakeSetAsync()
    {
        var made = await DemoCertificates.EnsureAsync(Directory, s_parties, TextWriter.Null);
        Assert.Equal("made now", made?.Origin);
    }

    /// <summary>Writes a new certificate and key for party 10000, signed by <paramref name="signer"/> (given the set's CA).</summary>
    private void ReplaceSite10000(Func<X509Certificate2, X509Certificate2> signer, DateTimeOffset notAfter)
    {
        using var ca = SiteCertificates.LoadAuthority(Path.Combine(Directory, "ca.crt"), Path.Combine(Directory, "ca.key"));
        using var site = SiteCertificates.CreateSite(signer(ca), "10000", ["localhost"], [IPAddress.Loopback], DateTimeOffset.UtcNow.AddDays(-1), notAfter);
        File.Delete(Path.Combine(Directory, "10000.key"));
        SiteCertificates.WritePem(site, Path.Combine(Directory, "10000.crt"), Path.Combine(Directory, "10000.key"));
    }

    /// <summary>The set can be reused as it is now, and knows each site certificate by its thumbprint.</summary>
    private void AssertUsable(DemoCertificates certificates)
    {
        Assert.NotNull(DemoCertificates.TryLoad(Directory, s_parties, DateTimeOffset.UtcNow, out var problem));
        Assert.Equal("", problem);
        foreach (var party in s_parties)
        {
            using var site = X509CertificateLoader.LoadCertificateFromFile(certificates.CertificateFile(party));
            Assert.Equal(certificates.CertificateFile(party), certificates.FileOf(site.Thumbprint));
        }
    }
}
