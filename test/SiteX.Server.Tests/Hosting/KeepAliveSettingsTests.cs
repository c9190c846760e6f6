using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Hosting;

namespace SiteX.Server.Tests.Hosting;

/// <summary>Keepalive settings Kestrel would refuse with an exception naming neither setting stop the start with an
/// error that names them.</summary>
public sealed class KeepAliveSettingsTests
{
    [Theory]
    [InlineData(500, 20_000)]
    [InlineData(60_000, 0)]
    public void AKeepAliveSettingUnderOneSecond_StopsTheStart_NamingIt(int delayMs, int timeoutMs)
    {
        var options = new SiteXOptions
        {
            GrpcPort = 0,
            HttpPort = 0,
            AdminPort = 0,
            KeepAlivePingDelay = TimeSpan.FromMilliseconds(delayMs),
            KeepAlivePingTimeout = TimeSpan.FromMilliseconds(timeoutMs),
        };

        var error = Assert.Throws<OptionsValidationException>(() => SiteXServer.Create(options, _ => { }));

        Assert.Contains(error.Failures, f => f.Contains("KeepAlivePingDelay", StringComparison.Ordinal) && f.Contains("at least 00:00:01", StringComparison.Ordinal));
    }
}
