using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Forwarding;

/// <summary>Who the gate takes the caller to be: proven party, unproven peer, claimed source, first gateway, this site.</summary>
public sealed class PermissionGateTests
{
    private static readonly PermissionGate s_gate = new(NullLogger<PermissionGate>.Instance,
        Microsoft.Extensions.Options.Options.Create(new SiteX.Server.Configuration.SiteXOptions { Tls = { TrustedRelays = ["exchange"] } }));

    /// <summary>Self party 10000; only callers from 9999 may reach anything, and an unknown caller reaches (10000, open).</summary>
    private static RouteTable Table()
    {
        var config = RouteTableParser.Parse("""
            {
              "route_table": {},
              "self_party": ["10000"],
              "permission": {
                "default": "deny",
                "rules": [
                  { "from": { "party": "9999" }, "action": "allow" },
                  { "to": { "party": "10000", "service": "open" }, "action": "allow" },
                  { "from": { "party": "10000" }, "to": { "service": "own" }, "action": "allow" }
                ]
              }
            }
            """, out var errors);
        Assert.Empty(errors);
        return RouteTable.Create(config!, ["10000"], 1, "test");
    }

    private static (bool Allowed, GatewayError Error, string Message) Check(GatewayCall call, string service, string? via = null)
    {
        var context = new DefaultHttpContext();
        if (via is not null)
        {
            context.Request.Headers["x-sitex-via"] = via;
        }

        var allowed = s_gate.TryAuthorize(context, call, Table(), "10000", service, out var error, out var message);
        return (allowed, error, message);
    }

    private static GatewayCall Call(string? source = null, string? peer = null, IngressKind ingress = IngressKind.Intra) =>
        new("GRPC", "MSG_REDIRECT") { SourceParty = source, PeerParty = peer, Ingress = ingress };

    [Fact]
    public void TryAuthorize_ClaimedSource_IsTheCallerOnIntraPorts()
    {
        Assert.True(Check(Call(source: "9999"), "x").Allowed);
        var denied = Check(Call(source: "8888"), "x");
        Assert.False(denied.Allowed);
        Assert.Equal(GatewayError.PermissionDenied, denied.Error);
        Assert.Equal("SiteX gateway 10000: permission denied: party 8888 may not reach party 10000 service x (rule permission.default)", denied.Message);
    }

    [Fact]
    public void TryAuthorize_ProvenPeer_WinsOverWhatTheHeadersClaim()
    {
        Assert.False(Check(Call(source: "9999", peer: "8888", ingress: IngressKind.InterSite), "x").Allowed);
        Assert.True(Check(Call(source: "8888", peer: "9999", ingress: IngressKind.InterSite), "x").Allowed);
    }

    [Fact]
    public void TryAuthorize_TrustedRelay_IsJudgedAsThePartyItVouchesFor_OtherPeersAsThemselves()
    {
        Assert.True(Check(Call(source: "9999", peer: "exchange", ingress: IngressKind.InterSite), "x").Allowed);
        Assert.False(Check(Call(source: "8888", peer: "exchange", ingress: IngressKind.InterSite), "x").Allowed);
        var relayItself = Check(Call(source: "exchange", peer: "exchange", ingress: IngressKind.InterSite), "x");
        Assert.Contains("party exchange may not reach", relayItself.Message, StringComparison.Ordinal);
        Assert.False(Check(Call(source: "9999", peer: "8888", ingress: IngressKind.InterSite), "x").Allowed);
    }

    [Fact]
    public void TryAuthorize_UnprovenPeerOnAnInterSitePort_MatchesOnlyWildcards()
    {
        var claimsAllowedParty = Check(Call(source: "9999", ingress: IngressKind.InterSite), "x");

        Assert.False(claimsAllowedParty.Allowed);
        Assert.Contains("an unproven peer may not reach", claimsAllowedParty.Message, StringComparison.Ordinal);
        Assert.True(Check(Call(source: "9999", ingress: IngressKind.InterSite), "open").Allowed);
    }

    [Fact]
    public void TryAuthorize_NoClaim_FirstGatewayOfTheViaList_ElseThisSite()
    {
        Assert.True(Check(Call(), "x", via: "9999#a1b2c3d4,exchange#e5f6").Allowed);
        Assert.False(Check(Call(), "x", via: "8888#a1b2c3d4").Allowed);
        Assert.True(Check(Call(), "own").Allowed);            // this site's own services
        Assert.False(Check(Call(), "x").Allowed);
        Assert.True(Check(Call(), "own", via: "../x#1").Allowed); // an unusable via entry is ignored
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("a\0b")]
    [InlineData("")]
    public void TryAuthorize_ClaimedSourceNotAPartyId_IsABadRequest(string source)
    {
        var result = Check(Call(source: source.Length == 0 ? new string('9', 10 * 1024) : source), "x");

        Assert.False(result.Allowed);
        Assert.Equal(GatewayError.BadRequest, result.Error);
        Assert.Contains("is not a valid party id", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\0", result.Message, StringComparison.Ordinal);
        Assert.True(result.Message.Length < 300, result.Message);
    }

    [Fact]
    public void TryAuthorize_NoPermissionSection_AllowsAnyone()
    {
        var config = RouteTableParser.Parse("""{ "route_table": {}, "self_party": ["10000"] }""", out _);
        var table = RouteTable.Create(config!, ["10000"], 1, "test");

        Assert.True(s_gate.TryAuthorize(new DefaultHttpContext(), Call(source: "1"), table, "10000", "x", out _, out _));
        Assert.True(s_gate.TryAuthorize(new DefaultHttpContext(), Call(ingress: IngressKind.InterSite), table, "10000", "x", out _, out _));
    }

    [Theory]
    [InlineData("9999#abc", "9999")]
    [InlineData(" 9999#abc , 10000#def", "9999")]
    [InlineData("9999", "9999")]
    [InlineData("", null)]
    [InlineData("a/b#1", null)]
    public void FirstViaParty_ReadsTheFirstEntry(string via, string? party) =>
        Assert.Equal(party, PermissionGate.FirstViaParty(via));
}
