using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// This gateway's signed request tokens: signs requests to peers it shares a key with and verifies requests from them.
/// Tokens are hop by hop: the signer is the adjacent gateway (an exchange re-signs with its own key), and the token
/// is bound to the <c>x-ptp-target-node-id</c> the request carries, the method, the request target and the body digest.
/// A SiteX token that came in is never passed on (<see cref="IsHopToken"/>); any other <c>x-ptp-token</c> is.
/// The keys of <see cref="TokenOptions.KeyFile"/> are reloaded when the file changes (<see cref="Start"/>): rotation
/// needs no restart, and a bad edit is refused while the keys before it keep serving.
/// </summary>
internal sealed class RequestTokens : IDisposable
{
    /// <summary>Quiet time after the last event on the key file before it is re-read.</summary>
    private static readonly TimeSpan s_reloadDelay = TimeSpan.FromMilliseconds(50);

    private readonly TokenOptions _settings;
    private readonly NonceCache _nonces;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly ILogger<RequestTokens> _logger;
    private volatile TokenKeySet _current;
    private byte[] _lastRejectedHash = [];
    private byte[] _lastFailedHash = [];
    private FileReloadLoop? _reloads;

    public RequestTokens(IOptions<SiteXOptions> options, TimeProvider time, ILogger<RequestTokens> logger)
    {
        _settings = options.Value.Tokens;
        _current = TokenKeyFile.Load(_settings, out var errors) ?? throw new OptionsValidationException("Tokens", typeof(TokenOptions), errors);
        _time = time;
        _window = _settings.Window;
        _nonces = new NonceCache(time, _settings.ReplayCacheCapacity);
        _logger = logger;
        MaxSignedBodyBytes = _settings.MaxSignedBodyBytes;
    }

    /// <summary>Raised after a changed key file was applied, with the new number of keys.</summary>
    public event Action<int>? Reloaded;

    /// <summary>Raised after a changed key file was refused, with the reason.</summary>
    public event Action<string>? ReloadRejected;

    private PeerKeyRing Ring => _current.Ring;

    /// <summary>Whether any peer key is configured.</summary>
    public bool Enabled => !Ring.IsEmpty;

    /// <summary>Logs the keys and starts watching the key file, if there is one.</summary>
    public void Start()
    {
        if (_settings.KeyFile is not { } path)
        {
            if (!Ring.IsEmpty)
            {
                TlsLog.TokenKeysLoaded(_logger, "loaded", Ring.Count, string.Join(", ", Ring.Peers), "Tokens:Keys");
            }

            return;
        }

        TlsLog.TokenKeysLoaded(_logger, "loaded", Ring.Count, string.Join(", ", Ring.Peers), path);
        WarnIfReadableByOthers(path);
        _reloads = new FileReloadLoop([Path.GetFullPath(path)], s_reloadDelay, _time, TryReload, (_, _, _) => { }, Reject,
            (directory, ex) => TlsLog.WatcherError(_logger, directory, ex.Message));
    }

    /// <summary>One reload attempt of the key file now (tests and the reload loop).</summary>
    internal ReloadAttempt TryReload()
    {
        var loaded = TokenKeyFile.Load(_settings, out var errors);
        if (loaded is null)
        {
            Volatile.Write(ref _lastFailedHash, HashOf(_settings.KeyFile!));
            return new ReloadAttempt(ReloadOutcome.Failed, string.Join("; ", errors));
        }

        if (loaded.FileHash.AsSpan().SequenceEqual(_current.FileHash))
        {
            return new ReloadAttempt(ReloadOutcome.Unchanged);
        }

        _current = loaded;
        TlsLog.TokenKeysLoaded(_logger, "reloaded", loaded.Ring.Count, string.Join(", ", loaded.Ring.Peers), _settings.KeyFile!);
        Reloaded?.Invoke(loaded.Ring.Count);
        return new ReloadAttempt(ReloadOutcome.Applied);
    }

    private void Reject(string problem)
    {
        var hash = Volatile.Read(ref _lastFailedHash);
        if (hash.Length > 0 && hash.AsSpan().SequenceEqual(Volatile.Read(ref _lastRejectedHash)))
        {
            return; // the same bad content again (a touch): said once already
        }

        Volatile.Write(ref _lastRejectedHash, hash);
        TlsLog.TokenKeysRejected(_logger, _settings.KeyFile!, problem, Ring.Count);
        ReloadRejected?.Invoke(problem);
    }

    private static byte[] HashOf(string path)
    {
        try
        {
            return SHA256.HashData(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private void WarnIfReadableByOthers(string path)
    {
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
        {
            TlsLog.TokenKeyFileReadable(_logger, path);
        }
    }

    public void Dispose() => _reloads?.Dispose();

    /// <summary>Largest body whose digest is signed (<see cref="TokenOptions.MaxSignedBodyBytes"/>).</summary>
    public int MaxSignedBodyBytes { get; }

    /// <summary>Whether requests to or from <paramref name="peer"/> can carry tokens.</summary>
    public bool SharesKeyWith(string peer) => Ring.Knows(peer);

    /// <summary>Whether an <c>x-ptp-token</c> value is a SiteX token, which belongs to one hop and is not forwarded.</summary>
    public static bool IsHopToken(string? value) => RequestToken.IsRequestToken(value);

    /// <summary>
    /// The peer whose shared key signs calls to <paramref name="endpoint"/>: its pinned <c>peer_party</c>, else the party
    /// of the route (not <c>default</c>: the gateway behind a default route is unknown until pinned). Null when the hop
    /// is not a peer gateway or no key is shared with that peer.
    /// </summary>
    public string? SignerFor(RouteGroup group, RouteDestination endpoint, bool toPeerGateway)
    {
        if (!toPeerGateway || Ring.IsEmpty)
        {
            return null;
        }

        var peer = endpoint.Config.PeerParty ?? (group.Party == RouteTableParser.DefaultKey ? null : group.Party);
        return peer is not null && Ring.Knows(peer) ? peer : null;
    }

    /// <summary>A token for a request from <paramref name="self"/> for <paramref name="target"/> carried by the gateway
    /// of <paramref name="peer"/>, or null (logged) when no key shared with that peer is valid now.</summary>
    public string? Sign(string peer, string self, string target, string method, string path, string bodyDigest)
    {
        var now = _time.GetUtcNow();
        var key = Ring.ForSigning(peer, now);
        if (key is null)
        {
            TlsLog.TokenKeyUnavailable(_logger, target, peer);
            return null;
        }

        return RequestToken.Create(key, new SignedRequest(method, path, self, target, bodyDigest), now);
    }

    /// <summary>Signs an outgoing request: its <c>x-ptp-token</c> and <c>x-sitex-content-sha256</c> replaced.</summary>
    public void SignInto(HttpRequestHeaders headers, string peer, string self, string method, string path, string bodyDigest)
    {
        var target = headers.NonValidated.TryGetValues(PtpHeaders.TargetNodeId, out var values) ? values.FirstOrDefault() ?? "" : "";
        headers.Remove(PtpHeaders.Token);
        headers.Remove(RequestToken.DigestHeader);
        if (Sign(peer, self, target, method, path, bodyDigest) is { } token)
        {
            headers.TryAddWithoutValidation(PtpHeaders.Token, token);
            headers.TryAddWithoutValidation(RequestToken.DigestHeader, bodyDigest);
        }
    }

    /// <summary>As <see cref="SignInto(HttpRequestHeaders, string, string, string, string, string)"/> for a header list
    /// (a relayed call's gRPC metadata or HTTP headers).</summary>
    public void SignInto(List<KeyValuePair<string, string>> headers, string peer, string self, string path, string bodyDigest)
    {
        var target = headers.Find(h => h.Key == PtpHeaders.TargetNodeId).Value ?? "";
        headers.RemoveAll(h => h.Key is PtpHeaders.Token or RequestToken.DigestHeader);
        if (Sign(peer, self, target, "POST", path, bodyDigest) is { } token)
        {
            headers.Add(new(PtpHeaders.Token, token));
            headers.Add(new(RequestToken.DigestHeader, bodyDigest));
        }
    }

    /// <summary>The digest of a unary gRPC request body (the 5-byte frame header and <paramref name="message"/>,
    /// uncompressed, as the gRPC client sends it), or <see cref="RequestToken.UnsignedPayload"/> above
    /// <see cref="MaxSignedBodyBytes"/>.</summary>
    public string GrpcBodyDigest(IMessage message)
    {
        var size = message.CalculateSize();
        if (size + 5L > MaxSignedBodyBytes)
        {
            return RequestToken.UnsignedPayload;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> frame = stackalloc byte[5];
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        hash.AppendData(frame);
        hash.AppendData(message.ToByteArray());
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Verifies the token of a request for <paramref name="target"/>; on success <paramref name="party"/> is the
    /// proven signer and <paramref name="keyId"/> its key.</summary>
    public TokenCheck Verify(string? token, string target, string method, string path, string bodyDigest, out string? party, out string? keyId) =>
        RequestToken.Verify(token, new SignedRequest(method, path, "", target, bodyDigest), Ring, _nonces, _time.GetUtcNow(), _window, out party, out keyId);
}
