using System.Net;
using SiteX.Server.Security;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex serve</c> with the inter-site TLS ports, as a real process.</summary>
public sealed class TlsServeTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    private static readonly string[] s_loopbackFreePorts = ["--grpc-port", "0", "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1"];

    private (string Cert, string Key, string Ca) WriteCertificates()
    {
        var now = DateTimeOffset.UtcNow;
        using var ca = SiteCertificates.CreateAuthority("serve CA", now.AddDays(-1), now.AddYears(1));
        using var site = SiteCertificates.CreateSite(ca, "9999", ["localhost"], [IPAddress.Loopback], now.AddDays(-1), now.AddDays(30));
        var (cert, key, caFile) = (Temp.Combine("site.crt"), Temp.Combine("site.key"), Temp.Combine("ca.pem"));
        SiteCertificates.WritePem(site, cert, key);
        SiteCertificates.WriteCertificatePem(caFile, ca);
        return (cert, key, caFile);
    }

    [Fact]
    public async Task Serve_WithCertificate_ListsTheTlsPortsInTheReadyLine()
    {
        // Arrange
        var (cert, key, ca) = WriteCertificates();

        // Act
        var process = StartSitex("serve-tls", ["serve", .. s_loopbackFreePorts, "--grpc-tls-port", "0", "--https-port", "0", "--tls-bind", "127.0.0.1",
            "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca]);
        var ready = await process.WaitForOutputAsync("SiteX ready");

        // Assert
        var match = System.Text.RegularExpressions.Regex.Match(ready, @", TLS gRPC on 127\.0\.0\.1:(?<grpc>\d+), HTTPS on 127\.0\.0\.1:(?<https>\d+)$");
        Assert.True(match.Success, ready);
        Assert.NotEqual("0", match.Groups["grpc"].Value);
        Assert.NotEqual("0", match.Groups["https"].Value);
    }

    [Fact]
    public async Task Serve_WithAMissingKeyFile_ExitsOne_NamingTheFile()
    {
        // Arrange
        var (cert, _, ca) = WriteCertificates();
        var missing = Temp.Combine("no-such.key");

        // Act
        var process = StartSitex("serve-bad-tls", ["serve", .. s_loopbackFreePorts, "--tls-cert", cert, "--tls-key", missing, "--tls-ca", ca]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        Assert.Contains($"Tls:KeyFile {missing}: file not found", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("SiteX ready", process.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithTlsSettingsInTheConfigFile_ResolvesPathsAgainstIt()
    {
        // Arrange: relative file names, resolved against the config file's directory.
        WriteCertificates();
        var config = WriteFile("sitex.json", """
            { "tls": { "grpcTlsPort": 0, "httpsPort": 0, "bind": "127.0.0.1", "certFile": "site.crt", "keyFile": "site.key", "caFile": "ca.pem" } }
            """);

        // Act
        var process = StartSitex("serve-tls-config", ["serve", "--config", config, .. s_loopbackFreePorts]);
        var ready = await process.WaitForOutputAsync("SiteX ready");

        // Assert
        Assert.Contains(", TLS gRPC on 127.0.0.1:", ready, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithAnUnknownTlsSettingInTheConfigFile_ExitsTwo()
    {
        // Arrange
        var config = WriteFile("sitex.json", """{ "tls": { "certFiel": "site.crt" } }""");

        // Act
        var process = StartSitex("serve-tls-typo", ["serve", "--config", config, .. s_loopbackFreePorts]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 2, process.Describe());
        Assert.Contains("\"tls.certFiel\" is not a TLS setting", process.StandardError, StringComparison.Ordinal);
    }
}
