using SiteX.Server.Configuration;
using SiteX.Server.Hosting;

namespace SiteX.Server.Tests.Hosting;

/// <summary>When <c>sitex serve</c> turns on inline socket completions (<see cref="InlineSocketCompletions"/>): only
/// for SiteX's own HTTP/2 server, and never over a value the operator set. (That the runtime takes it is shown by
/// ServeTests in the integration tests, on a real process.)</summary>
public sealed class InlineSocketCompletionsTests
{
    [Theory]
    [InlineData(Http2ServerEngine.SiteX, null, true)]
    [InlineData(Http2ServerEngine.SiteX, "", true)]
    [InlineData(Http2ServerEngine.SiteX, "0", false)]
    [InlineData(Http2ServerEngine.SiteX, "1", false)]
    [InlineData(Http2ServerEngine.Kestrel, null, false)]
    [InlineData(Http2ServerEngine.Kestrel, "0", false)]
    public void ShouldEnable_OnlyForTheOwnServer_AndOnlyWhenTheEnvironmentSaysNothing(Http2ServerEngine engine, string? current, bool expected)
    {
        var options = new SiteXOptions { Http2Server = engine };

        Assert.Equal(expected, InlineSocketCompletions.ShouldEnable(options, current));
    }
}
