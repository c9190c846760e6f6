using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;

namespace SiteX.Server.Security;

/// <summary>
/// This gateway's signed request tokens: signs requests to peers it shares a key with and verifies requests from them.
/// Tokens are hop by hop: the signer is the adjacent gateway (an exchange re-signs with its own key), and the token
/// is bound to the final target party, the method, the path and the body digest.
/// </summary>
internal sealed class RequestTokens
{
    private readonly PeerKeyRing _keys;
    private readonly NonceCache _nonces;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;

    public RequestTokens(IOptions<SiteXOptions> options, TimeProvider time)
    {
        var settings = options.Value.Tokens;
        _keys = PeerKeyRing.Create(settings.Keys, out var errors);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException("Tokens", typeof(TokenOptions), errors);
        }

        _time = time;
        _window = settings.Window;
        _nonces = new NonceCache(time, settings.ReplayCacheCapacity);
    }

    /// <summary>Whether any peer key is configured.</summary>
    public bool Enabled => !_keys.IsEmpty;

    /// <summary>Whether requests to or from <paramref name="peer"/> can carry tokens.</summary>
    public bool SharesKeyWith(string peer) => _keys.Knows(peer);

    /// <summary>A token for a request from <paramref name="self"/> to <paramref name="target"/> carried by the gateway
    /// of <paramref name="peer"/>, or null when no key shared with that peer is valid now.</summary>
    public string? Sign(string peer, string self, string target, string method, string path, string bodyDigest)
    {
        var now = _time.GetUtcNow();
        var key = _keys.ForSigning(peer, now);
        return key is null ? null : RequestToken.Create(key, new SignedRequest(method, path, self, target, bodyDigest), now);
    }

    /// <summary>Verifies the token of a request for <paramref name="target"/>; on success <paramref name="party"/> is the
    /// proven signer.</summary>
    public TokenCheck Verify(string? token, string target, string method, string path, string bodyDigest, out string? party) =>
        RequestToken.Verify(token, new SignedRequest(method, path, "", target, bodyDigest), _keys, _nonces, _time.GetUtcNow(), _window, out party);
}
