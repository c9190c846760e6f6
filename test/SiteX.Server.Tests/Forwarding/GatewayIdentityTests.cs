using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Tests.Forwarding;

public sealed class GatewayIdentityTests
{
    [Fact]
    public void CheckLoop_SelfPartyChangesBetweenCalls_NextViaNamesTheCurrentParty()
    {
        // Arrange: the via entry is kept between calls; a reloaded table with another first self party changes it.
        var identity = new GatewayIdentity(Options.Create(new SiteXOptions { InstanceId = "a1b2c3d4" }));
        var relayed = new HeaderDictionary { [SiteXHeaders.Hops] = "1", [SiteXHeaders.Via] = "10000#0e1f2a3b" };

        // Act
        var first = identity.CheckLoop(new HeaderDictionary(), "9999");
        var again = identity.CheckLoop(new HeaderDictionary(), "9999");
        var renamed = identity.CheckLoop(relayed, "9998");

        // Assert
        Assert.Equal("9999#a1b2c3d4", first.NextVia);
        Assert.Same(first.NextVia, again.NextVia);
        Assert.Equal((LoopVerdict.None, 1, "10000#0e1f2a3b,9998#a1b2c3d4"), (renamed.Verdict, renamed.Hops, renamed.NextVia));
        Assert.Equal("9998#a1b2c3d4", identity.ViaEntry("9998"));
    }
}
