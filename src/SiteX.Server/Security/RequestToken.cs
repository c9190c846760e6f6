using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SiteX.Server.Security;

/// <summary>The request a token is bound to: what it signs besides time and nonce.</summary>
/// <param name="Method">HTTP method (gRPC: <c>POST</c>).</param>
/// <param name="Path">Request path, e.g. <c>/org.ppc.ptp.PrivateTransferProtocol/invoke</c>.</param>
/// <param name="From">The signing party (the token's issuer).</param>
/// <param name="To">The party the request is for, so a token for one party cannot be replayed to another.</param>
/// <param name="BodyDigest">Lower-case hex SHA-256 of the body, or <see cref="RequestToken.UnsignedPayload"/> for a
/// stream whose body cannot be hashed before it is sent (TLS then protects its integrity).</param>
internal readonly record struct SignedRequest(string Method, string Path, string From, string To, string BodyDigest);

/// <summary>Why a token was refused (or <see cref="Ok"/>).</summary>
public enum TokenCheck
{
    Ok = 0,
    Missing,
    Malformed,
    UnknownPeer,
    UnknownKey,
    KeyNotValid,
    OutsideWindow,
    Replayed,
    BadSignature,
    ReplayCacheFull,
}

/// <summary>
/// Signed request tokens for peers that cannot use mTLS, carried in <c>x-ptp-token</c>:
/// <c>sitex1:&lt;party&gt;:&lt;key id&gt;:&lt;unix seconds&gt;:&lt;nonce&gt;:&lt;signature&gt;</c>, the signature an HMAC-SHA256
/// with the key shared by the two parties over a canonical text of the version, method, path, both parties, time, nonce
/// and body digest. The verifier accepts a token only inside a time window, only once (nonce replay cache), and
/// only with a key of the claimed party that is valid now.
/// </summary>
internal static class RequestToken
{
    public const string Version = "sitex1";

    /// <summary>The body digest of a request whose body is a stream (as in AWS SigV4).</summary>
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";

    /// <summary>The header that carries the body digest next to the token.</summary>
    public const string DigestHeader = "x-sitex-content-sha256";

    private const int NonceBytes = 16;

    private static readonly System.Buffers.SearchValues<char> s_hexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");

    public static string BodyDigest(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    /// <summary>Whether an <c>x-ptp-token</c> value is a SiteX request token (any other value is opaque to SiteX).</summary>
    public static bool IsRequestToken([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? token) =>
        token is not null && token.StartsWith(Version + ":", StringComparison.Ordinal);

    /// <summary>Whether a digest header value is <see cref="UnsignedPayload"/> or 64 lower-case hex digits.</summary>
    public static bool IsDigest(string value) =>
        value == UnsignedPayload || (value.Length == 64 && value.AsSpan().IndexOfAnyExcept(s_hexDigits) < 0);

    /// <summary>The party a token claims to be from (for logs), or "" when it has none.</summary>
    public static string ClaimedParty(string token) => token.Split(':') is { Length: > 1 } parts ? parts[1] : "";

    /// <summary>A fresh token for <paramref name="request"/> signed with <paramref name="key"/> at <paramref name="now"/>.</summary>
    public static string Create(PeerKey key, SignedRequest request, DateTimeOffset now)
    {
        Span<byte> nonceBytes = stackalloc byte[NonceBytes];
        RandomNumberGenerator.Fill(nonceBytes);
        var nonce = Base64Url.EncodeToString(nonceBytes);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = Sign(key.Secret, request, timestamp, nonce);
        return string.Join(':', Version, request.From, key.Id, timestamp, nonce, signature);
    }

    /// <summary>Checks <paramref name="token"/> for <paramref name="request"/> (its <c>From</c> is ignored: the party is
    /// the token's); on success <paramref name="party"/> is the proven party and <paramref name="keyId"/> the key that signed.</summary>
    public static TokenCheck Verify(string? token, SignedRequest request, PeerKeyRing keys, NonceCache nonces, DateTimeOffset now, TimeSpan window, out string? party, out string? keyId)
    {
        party = null;
        keyId = null;
        if (string.IsNullOrEmpty(token))
        {
            return TokenCheck.Missing;
        }

        var parts = token.Split(':');
        if (parts.Length != 6 || parts[0] != Version
            || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || parts[4].Length is 0 or > 64 || parts[5].Length is 0 or > 128)
        {
            return TokenCheck.Malformed;
        }

        var claimed = parts[1];
        if (!keys.Knows(claimed))
        {
            return TokenCheck.UnknownPeer;
        }

        var key = keys.Find(claimed, parts[2]);
        if (key is null)
        {
            return TokenCheck.UnknownKey;
        }

        if (!key.IsValidAt(now))
        {
            return TokenCheck.KeyNotValid;
        }

        if (seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return TokenCheck.Malformed;
        }

        var issued = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if (issued < now - window || issued > now + window)
        {
            return TokenCheck.OutsideWindow;
        }

        var expected = Sign(key.Secret, request with { From = claimed }, parts[3], parts[4]);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(parts[5])))
        {
            return TokenCheck.BadSignature;
        }

        // Only a genuine token takes a place in the replay cache.
        var remembered = nonces.TryRemember(claimed, parts[4], issued + window);
        if (remembered != TokenCheck.Ok)
        {
            return remembered;
        }

        party = claimed;
        keyId = key.Id;
        return TokenCheck.Ok;
    }

    /// <summary>What a refusal means, for logs and the caller (no secrets, no key material).</summary>
    public static string Describe(TokenCheck check) => check switch
    {
        TokenCheck.Missing => "no x-ptp-token",
        TokenCheck.Malformed => "the x-ptp-token is not a SiteX request token",
        TokenCheck.UnknownPeer => "the token's party has no shared key here",
        TokenCheck.UnknownKey => "the token names a key this gateway does not have",
        TokenCheck.KeyNotValid => "the token's key is expired or not yet valid",
        TokenCheck.OutsideWindow => "the token's time is outside the accepted window (check both clocks)",
        TokenCheck.Replayed => "the token was already used (replay)",
        TokenCheck.BadSignature => "the token's signature does not match the request",
        TokenCheck.ReplayCacheFull => "too many tokens in the replay window; try again",
        _ => "ok",
    };

    private static string Sign(byte[] secret, SignedRequest request, string timestamp, string nonce)
    {
        var text = string.Join('\n', Version, request.Method, request.Path, request.From, request.To, timestamp, nonce, request.BodyDigest);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(text), mac);
        return Base64Url.EncodeToString(mac);
    }
}

/// <summary>
/// Nonces of accepted tokens until their window has passed, so each token is accepted once. Bounded: when full of
/// unexpired nonces it refuses new tokens (fails closed) rather than forgetting one that could then be replayed.
/// </summary>
internal sealed class NonceCache(TimeProvider time, int capacity = 1_000_000)
{
    private readonly Dictionary<(string Party, string Nonce), DateTimeOffset> _seen = [];
    private readonly Lock _lock = new();
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _seen.Count;
            }
        }
    }

    public TokenCheck TryRemember(string party, string nonce, DateTimeOffset forgetAfter)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (now >= _nextSweep || _seen.Count >= capacity)
            {
                Sweep(now);
            }

            if (_seen.TryGetValue((party, nonce), out var until) && until > now)
            {
                return TokenCheck.Replayed;
            }

            if (_seen.Count >= capacity)
            {
                return TokenCheck.ReplayCacheFull;
            }

            _seen[(party, nonce)] = forgetAfter;
            return TokenCheck.Ok;
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, until) in _seen)
        {
            if (until <= now)
            {
                _seen.Remove(key);
            }
        }

        _nextSweep = now + TimeSpan.FromSeconds(10);
    }
}
