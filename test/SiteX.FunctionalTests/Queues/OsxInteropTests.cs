using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Queues;

/// <summary>A SiteX site pushing to a site that runs Java OSX: what arrives must pass OSX's own checks.</summary>
public sealed class OsxInteropTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Push_ToPartyBehindJavaOsx_ArrivesAsTheInvokeOsxExpects()
    {
        await using var cluster = new TestCluster(output);
        var osx = await cluster.StartFakeFateAsync("osx-10000");
        var gateway = await cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999", new Route("10000", "default", osx.Port)));
        var guest = new FateMqClient(gateway.GrpcPort, "job-7", "9999", "guest");

        var reply = await guest.ProduceAsync("10000", "job-7-guest-9999-host-10000-x", "obj", "tag", [1, 2, 3]).DefaultTimeout();

        Assert.Equal(("E0000000000", "success"), (reply.Code, reply.Message));
        var (headers, push) = Assert.Single(osx.Osx.Pushes);
        Assert.Equal("grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/push", headers.GetValue("x-ptp-uri"));
        Assert.Equal("FATE", headers.GetValue("x-ptp-tech-provider-code"));
        Assert.Equal("10000", headers.GetValue("x-ptp-target-node-id"));
        Assert.Equal("job-7", headers.GetValue("x-ptp-session-id"));
        Assert.Equal("9999", headers.GetValue("x-ptp-source-node-id")); // OSX reads only this spelling
        Assert.Equal("job-7-guest-9999-host-10000-x", push.Topic);
        Assert.Equal([1, 2, 3], SiteX.Protocol.Ptp.Message.Parser.ParseFrom(push.Payload).Body.ToByteArray());
        Assert.Empty(gateway.Queues.Snapshot());
    }
}
