using Microsoft.Extensions.Time.Testing;
using SiteX.Server.Security;

namespace SiteX.Server.Tests.Security;

public sealed class RequestTokenTests
{
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(5);
    private static readonly string s_secretA = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string s_secretB = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private static readonly SignedRequest s_request = new("POST", "/org.ppc.ptp.PrivateTransferProtocol/invoke", "9999", "10000", RequestToken.BodyDigest("hello"u8));

    private static PeerKeyRing Ring(params PeerKeyConfig[] keys)
    {
        var ring = PeerKeyRing.Create(keys, out var errors);
        Assert.Empty(errors);
        return ring;
    }

    private TokenCheck Verify(string? token, PeerKeyRing ring, NonceCache nonces, SignedRequest? request = null) =>
        RequestToken.Verify(token, request ?? s_request, ring, nonces, _time.GetUtcNow(), s_window, out _, out _);

    [Fact]
    public void AValidToken_ProvesItsParty_Once()
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });
        var nonces = new NonceCache(_time);
        var token = RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow());

        Assert.Equal(TokenCheck.Ok, RequestToken.Verify(token, s_request with { From = "ignored" }, ring, nonces, _time.GetUtcNow(), s_window, out var party, out _));
        Assert.Equal("9999", party);
        Assert.Equal(TokenCheck.Replayed, Verify(token, ring, nonces));
    }

    [Theory]
    [InlineData("method")]
    [InlineData("path")]
    [InlineData("to")]
    [InlineData("body")]
    public void AnyChangeToTheSignedRequest_BreaksTheSignature(string part)
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });
        var token = RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow());
        var changed = part switch
        {
            "method" => s_request with { Method = "GET" },
            "path" => s_request with { Path = "/v1/queues/release" },
            "to" => s_request with { To = "10001" },
            _ => s_request with { BodyDigest = RequestToken.BodyDigest("hellO"u8) },
        };

        Assert.Equal(TokenCheck.BadSignature, Verify(token, ring, new NonceCache(_time), changed));
    }

    [Fact]
    public void AForgedToken_ForAnotherPartyWithItsOwnKey_IsRefused()
    {
        // 8888 shares a key with this gateway too, but cannot sign as 9999.
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA }, new PeerKeyConfig { Peer = "8888", Id = "k1", Secret = s_secretB });
        var token = RequestToken.Create(ring.ForSigning("8888", _time.GetUtcNow())!, s_request with { From = "8888" }, _time.GetUtcNow());
        var forged = token.Replace("sitex1:8888:", "sitex1:9999:", StringComparison.Ordinal);

        Assert.Equal(TokenCheck.BadSignature, Verify(forged, ring, new NonceCache(_time)));
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    public void ATokenOutsideTheWindow_IsRefused(int skewSeconds)
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });
        var token = RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow().AddSeconds(skewSeconds));

        Assert.Equal(TokenCheck.OutsideWindow, Verify(token, ring, new NonceCache(_time)));
    }

    [Fact]
    public void AnExpiredToken_IsRefused_EvenIfNeverUsed()
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });
        var token = RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow());
        _time.Advance(s_window + TimeSpan.FromSeconds(1));

        Assert.Equal(TokenCheck.OutsideWindow, Verify(token, ring, new NonceCache(_time)));
    }

    [Theory]
    [InlineData(null, TokenCheck.Missing)]
    [InlineData("", TokenCheck.Missing)]
    [InlineData("1234", TokenCheck.Malformed)]
    [InlineData("sitex1:9999:k1:notanumber:abc:def", TokenCheck.Malformed)]
    [InlineData("sitex2:9999:k1:1:abc:def", TokenCheck.Malformed)]
    [InlineData("sitex1:7777:k1:1:abc:def", TokenCheck.UnknownPeer)]
    [InlineData("sitex1:9999:k9:1:abc:def", TokenCheck.UnknownKey)]
    public void MalformedOrUnknownTokens_AreRefusedWithTheirReason(string? token, TokenCheck expected)
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });

        Assert.Equal(expected, Verify(token, ring, new NonceCache(_time)));
        Assert.DoesNotContain(s_secretA, RequestToken.Describe(expected), StringComparison.Ordinal);
    }

    [Fact]
    public void Rotation_SignsWithTheNewestValidKey_AndAcceptsTheOldOneUntilItExpires()
    {
        var now = _time.GetUtcNow();
        var ring = Ring(
            new PeerKeyConfig { Peer = "9999", Id = "old", Secret = s_secretA, NotAfter = now.AddHours(2) },
            new PeerKeyConfig { Peer = "9999", Id = "new", Secret = s_secretB, NotBefore = now.AddHours(1) });
        var nonces = new NonceCache(_time);

        Assert.Equal("old", ring.ForSigning("9999", now)!.Id);
        var oldToken = RequestToken.Create(ring.ForSigning("9999", now)!, s_request, now);

        _time.Advance(TimeSpan.FromHours(1.5)); // both valid: the overlap
        Assert.Equal("new", ring.ForSigning("9999", _time.GetUtcNow())!.Id);
        var fromOld = RequestToken.Create(ring.Find("9999", "old")!, s_request, _time.GetUtcNow());
        var fromNew = RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow());
        Assert.Equal(TokenCheck.Ok, Verify(fromOld, ring, nonces));
        Assert.Equal(TokenCheck.Ok, Verify(fromNew, ring, nonces));
        Assert.Equal(TokenCheck.OutsideWindow, Verify(oldToken, ring, nonces));

        _time.Advance(TimeSpan.FromHours(1)); // the old key expired
        var late = RequestToken.Create(ring.Find("9999", "old")!, s_request, _time.GetUtcNow());
        Assert.Equal(TokenCheck.KeyNotValid, Verify(late, ring, nonces));
        Assert.Equal("new", ring.ForSigning("9999", _time.GetUtcNow())!.Id);
    }

    [Fact]
    public void AFullReplayCache_FailsClosed_AndFreesPlacesAsTokensExpire()
    {
        var ring = Ring(new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA });
        var nonces = new NonceCache(_time, capacity: 3);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(TokenCheck.Ok, Verify(RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow()), ring, nonces));
        }

        Assert.Equal(TokenCheck.ReplayCacheFull, Verify(RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow()), ring, nonces));

        _time.Advance(s_window + TimeSpan.FromSeconds(1));
        Assert.Equal(TokenCheck.Ok, Verify(RequestToken.Create(ring.ForSigning("9999", _time.GetUtcNow())!, s_request, _time.GetUtcNow()), ring, nonces));
        Assert.Equal(1, nonces.Count);
    }

    [Fact]
    public void KeyConfiguration_ReportsEveryProblem_WithoutShowingSecrets()
    {
        PeerKeyRing.Create(
            [
                new PeerKeyConfig { Peer = "../x", Id = "k1", Secret = s_secretA },
                new PeerKeyConfig { Peer = "9999", Id = "k:1", Secret = s_secretA },
                new PeerKeyConfig { Peer = "9999", Id = "short", Secret = Convert.ToBase64String(new byte[16]) },
                new PeerKeyConfig { Peer = "9999", Id = "b64", Secret = "not base64!" },
                new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretA },
                new PeerKeyConfig { Peer = "9999", Id = "k1", Secret = s_secretB },
                new PeerKeyConfig { Peer = "9999", Id = "k2", Secret = s_secretA, NotBefore = _time.GetUtcNow(), NotAfter = _time.GetUtcNow() },
            ],
            out var errors);

        Assert.Equal(6, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[0].Peer", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[1].Id", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[2].Secret", StringComparison.Ordinal) && e.Contains("at least 32", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[3].Secret", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[5].Id", StringComparison.Ordinal) && e.Contains("already", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tokens:Keys[6]", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains(s_secretA, StringComparison.Ordinal) || e.Contains(s_secretB, StringComparison.Ordinal));
    }
}

public sealed class RequestTokensServiceTests
{
    private static readonly string s_secret = Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());

    private static RequestTokens Create(string peer, FakeTimeProvider time) =>
        new(Microsoft.Extensions.Options.Options.Create(new SiteX.Server.Configuration.SiteXOptions
        {
            Tokens = { Keys = [new PeerKeyConfig { Peer = peer, Id = "k1", Secret = s_secret }] },
        }), time, Microsoft.Extensions.Logging.Abstractions.NullLogger<RequestTokens>.Instance);

    [Fact]
    public void TwoGateways_SharingAKey_SignAndVerifyEachOthersRequests_BoundToTheTarget()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var atA = Create("10000", time); // site 9999's gateway, sharing the key with 10000
        var atB = Create("9999", time);  // site 10000's gateway, sharing the key with 9999
        var digest = RequestToken.BodyDigest("payload"u8);

        var token = atA.Sign("10000", "9999", "10000", "POST", "/org.ppc.ptp.PrivateTransferProtocol/invoke", digest);

        Assert.NotNull(token);
        Assert.True(atA.Enabled && atA.SharesKeyWith("10000") && !atA.SharesKeyWith("8888"));
        Assert.Null(atA.Sign("8888", "9999", "8888", "POST", "/x", digest));
        Assert.Equal(TokenCheck.BadSignature, atB.Verify(token, "10001", "POST", "/org.ppc.ptp.PrivateTransferProtocol/invoke", digest, out _, out _));
        Assert.Equal(TokenCheck.Ok, atB.Verify(token, "10000", "POST", "/org.ppc.ptp.PrivateTransferProtocol/invoke", digest, out var party, out _));
        Assert.Equal("9999", party);
        Assert.Equal(TokenCheck.Replayed, atB.Verify(token, "10000", "POST", "/org.ppc.ptp.PrivateTransferProtocol/invoke", digest, out _, out _));
    }

    [Fact]
    public void ABadKey_StopsTheGatewayFromStarting_NamingTheSetting()
    {
        var error = TokenStartup.Refused(new SiteX.Server.Configuration.TokenOptions
        {
            Keys = [new PeerKeyConfig { Peer = "10000", Id = "k1", Secret = Convert.ToBase64String(new byte[8]) }],
        });
        Assert.Contains("Tokens:Keys[0].Secret", error.Message, StringComparison.Ordinal);
    }
}

public sealed class TokenKeyFileTests : IDisposable
{
    private static readonly string s_secret = Convert.ToBase64String(Enumerable.Range(40, 32).Select(i => (byte)i).ToArray());
    private readonly string _directory = Directory.CreateTempSubdirectory("sitex-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (TokenKeySet? Set, List<string> Errors, string Path) Load(string json, params PeerKeyConfig[] configured)
    {
        var path = Path.Combine(_directory, "keys.json");
        File.WriteAllText(path, json);
        var set = TokenKeyFile.Load(new SiteX.Server.Configuration.TokenOptions { Keys = [.. configured], KeyFile = path }, out var errors);
        return (set, errors, path);
    }

    [Fact]
    public void AKeyFile_AddsItsKeysToTheSettingsKeys()
    {
        var (set, errors, _) = Load($$"""{"keys": [{"peer": "10000", "id": "k2", "secret": "{{s_secret}}", "notBefore": "2026-11-01T00:00:00Z"}]}""",
            new PeerKeyConfig { Peer = "8888", Id = "k1", Secret = s_secret });

        Assert.Empty(errors);
        Assert.Equal(2, set!.Ring.Count);
        Assert.Equal(["10000", "8888"], set.Ring.Peers);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), set.Ring.Find("10000", "k2")!.NotBefore);
        Assert.Equal(32, set.FileHash.Length);
    }

    [Theory]
    [InlineData("not json", "not valid JSON (line 1, byte ")]
    [InlineData("""{"peers": []}""", "must be a JSON object with a \"keys\" array")]
    [InlineData("""{"keys": [{"peer": "10000", "id": "k1", "secret": "SECRET", "colour": "red"}]}""", "keys[0]: \"colour\" is not a key field")]
    [InlineData("""{"keys": [{"peer": "10000", "secret": "SECRET"}]}""", "keys[0].id: missing or not a string")]
    [InlineData("""{"keys": [{"peer": "10000", "id": "k1", "secret": "SECRET", "notAfter": "soon"}]}""", "keys[0].notAfter: not a time")]
    [InlineData("""{"keys": [{"peer": "10000", "id": "k1", "secret": "c2hvcnQ="}]}""", "keys[0].Secret: 5 bytes")]
    [InlineData("""{"keys": [{"peer": "8888", "id": "k1", "secret": "SECRET"}]}""", "keys[0].Id: party 8888 already has a key named \"k1\"")]
    public void ABadKeyFile_IsRefused_NamingTheFileAndEntry_NeverTheSecret(string json, string expected)
    {
        var (set, errors, path) = Load(json.Replace("SECRET", s_secret, StringComparison.Ordinal), new PeerKeyConfig { Peer = "8888", Id = "k1", Secret = s_secret });

        Assert.Null(set);
        var error = Assert.Single(errors);
        Assert.StartsWith(path, error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain(s_secret, error, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingKeyFile_StopsTheGatewayFromStarting()
    {
        var error = TokenStartup.Refused(new SiteX.Server.Configuration.TokenOptions { KeyFile = Path.Combine(_directory, "absent.json") });
        Assert.Contains("Tokens:KeyFile", error.Message, StringComparison.Ordinal);
        Assert.Contains("absent.json cannot be read", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Starting a gateway with token settings that must stop it.</summary>
internal static class TokenStartup
{
    public static Microsoft.Extensions.Options.OptionsValidationException Refused(SiteX.Server.Configuration.TokenOptions tokens) =>
        Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => SiteX.Server.Hosting.SiteXServer.Create(
            new SiteX.Server.Configuration.SiteXOptions { GrpcPort = 0, HttpPort = 0, AdminPort = 0, Tokens = tokens }, _ => { }));
}
