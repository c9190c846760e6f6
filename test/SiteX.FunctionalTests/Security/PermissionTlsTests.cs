using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Samples.V1;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Security;

/// <summary>Permission rules on the inter-site TLS port judge the party the client certificate proves (or, for a
/// trusted relay, the party it vouches for), never a header a peer could set.</summary>
public sealed class PermissionTlsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task GrpcTlsPort_RulesJudgeTheProvenParty_AndWhatATrustedRelayVouchesFor()
    {
        // Arrange: B lets 9999 reach its echo service, nobody else anything.
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster, tls => tls.TrustedRelays = ["exchange"]);
        var before = site.B.Routes.Current.Version;
        var applied = site.B.WaitForTableAsync(t => t.Version > before);
        site.B.WriteRouteTable(RouteJson.WithPermission(
            RouteJson.Osx(TlsSite.PartyB, new Route(TlsSite.PartyB, "echo", site.Echo.Port), new Route(TlsSite.PartyB, "fateflow", site.FateFlow.Port)),
            """{ "default": "deny", "rules": [ { "from": { "party": "9999" }, "to": { "party": "10000", "service": "echo" }, "action": "allow" } ] }"""));
        await applied.DefaultTimeout();
        using var peer9999 = site.PeerA9999();
        using var peer8888 = new PeerClient(site.Pki.Site(site.Ca, "8888"), site.Ca);
        using var exchange = new PeerClient(site.Pki.Site(site.Ca, "exchange"), site.Ca);

        Task<EchoReply> Call(PeerClient peer, params (string Key, string Value)[] extra)
        {
            var headers = TestCluster.Target(TlsSite.PartyB, "echo");
            foreach (var (key, value) in extra)
            {
                headers.Add(key, value);
            }

            return new Echo.EchoClient(peer.Channel(site.B.GrpcTlsPort)).UnaryAsync(new EchoRequest { Text = "x" }, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        }

        // Act
        var proven = await Call(peer9999);
        var other = await Assert.ThrowsAsync<RpcException>(() => Call(peer8888));
        var vouched = await Call(exchange, (PtpHeaders.SourceNodeId, TlsSite.PartyA));
        var vouchedOther = await Assert.ThrowsAsync<RpcException>(() => Call(exchange, (PtpHeaders.SourceNodeId, "7777")));
        var relayItself = await Assert.ThrowsAsync<RpcException>(() => Call(exchange));

        // Assert
        Assert.Equal("x", proven.Text);
        Assert.Equal("x", vouched.Text);
        Assert.Equal(StatusCode.PermissionDenied, other.StatusCode);
        Assert.Equal("permission_denied", other.Trailers.GetValue("x-sitex-error"));
        Assert.Equal("SiteX gateway 10000: permission denied: party 8888 may not reach party 10000 service echo (rule permission.default)", other.Status.Detail);
        Assert.EndsWith("party 7777 may not reach party 10000 service echo (rule permission.default)", vouchedOther.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("party exchange may not reach party 10000 service echo (rule permission.default)", relayItself.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, site.Echo.Observer.CallsStarted);
        cluster.AssertNoUnexpectedErrors();
    }
}
