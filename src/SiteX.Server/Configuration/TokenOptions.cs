using SiteX.Server.Security;

namespace SiteX.Server.Configuration;

/// <summary>Signed request tokens between gateways that cannot use mTLS (<c>Tokens</c> section; see
/// <c>docs/adr/0007-signed-request-tokens.md</c>).</summary>
public sealed class TokenOptions
{
    /// <summary>Keys shared with peers: each signs requests to that peer and verifies requests from it.</summary>
    public List<PeerKeyConfig> Keys { get; set; } = [];

    /// <summary>A JSON file of more keys, <c>{"keys": [{"peer", "id", "secret", "notBefore"?, "notAfter"?}]}</c>, kept
    /// out of the settings and reloaded when it changes (a bad edit is refused and the keys before it keep serving).</summary>
    public string? KeyFile { get; set; }

    /// <summary>How far a token's time may be from this gateway's clock, either way; also how long a nonce is kept.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most nonces remembered at once; beyond it new tokens are refused (fail closed) until old ones expire.</summary>
    public int ReplayCacheCapacity { get; set; } = 1_000_000;

    /// <summary>Largest body whose digest a token signs. This gateway signs the digest of the bodies it composes up to
    /// this size (larger ones, and streams it forwards, go as <c>UNSIGNED-PAYLOAD</c>); a received token that signs the
    /// digest of a larger body is refused, as the body would have to be held in memory to check it.</summary>
    public int MaxSignedBodyBytes { get; set; } = 4 * 1024 * 1024;
}
