using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;
using SiteX.Server.Http;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// Proves a peer by the SiteX request token in <c>x-ptp-token</c> (<see cref="RequestToken"/>): the token must be
/// signed with a key shared with its party, for this request's method, request target (path and query) and
/// <c>x-ptp-target-node-id</c>, inside the time window, never seen before, and with the body digest of
/// <c>x-sitex-content-sha256</c>. A signed digest is checked against the body, which is then read whole (at most
/// <see cref="TokenOptions.MaxSignedBodyBytes"/>) and served from memory; <c>UNSIGNED-PAYLOAD</c> leaves the body a stream.
/// Any other <c>x-ptp-token</c> (OSX forwards whatever FATE puts there) is not a credential and is ignored.
/// </summary>
internal sealed class TokenPeerAuthenticator(RequestTokens tokens, IOptions<SiteXOptions> options, ILogger<TokenPeerAuthenticator> logger) : IPeerAuthenticator
{
    private readonly int _maxSignedBody = options.Value.Tokens.MaxSignedBodyBytes;

    public async ValueTask<PeerAuthentication> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var headers = context.Request.Headers;
        var token = CallHeaders.Get(headers, PtpHeaders.Token);
        if (!RequestToken.IsRequestToken(token))
        {
            return PeerAuthentication.None;
        }

        var path = RequestTarget(context);
        var digest = CallHeaders.Get(headers, RequestToken.DigestHeader);
        if (digest is null || !RequestToken.IsDigest(digest))
        {
            return Refuse(path, token, $"a request token needs {RequestToken.DigestHeader}: the lower-case hex SHA-256 of the body, or {RequestToken.UnsignedPayload}");
        }

        var target = CallHeaders.Get(headers, PtpHeaders.TargetNodeId) ?? "";
        var check = tokens.Verify(token, target, context.Request.Method, path, digest, out var party, out var keyId);
        if (check != TokenCheck.Ok)
        {
            return Refuse(path, token, "request token refused: " + RequestToken.Describe(check));
        }

        if (digest != RequestToken.UnsignedPayload)
        {
            var body = await ReadBodyAsync(context.Request, _maxSignedBody, cancellationToken);
            if (body is null)
            {
                return Refuse(path, token, $"the token signs the digest of a body larger than {_maxSignedBody} bytes (Tokens:MaxSignedBodyBytes); sign such bodies as {RequestToken.UnsignedPayload}");
            }

            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(RequestToken.BodyDigest(body.GetBuffer().AsSpan(0, (int)body.Length))), Encoding.ASCII.GetBytes(digest)))
            {
                return Refuse(path, token, $"the body does not match the digest its token signs ({RequestToken.DigestHeader})");
            }

            context.Request.Body = body;
        }

        return PeerAuthentication.Proven(new PeerIdentity(party!, PeerProof.Token, "token key " + keyId));
    }

    /// <summary>The request target as the client sent it (path and query), which is what the signer signed.</summary>
    internal static string RequestTarget(HttpContext context) =>
        context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw ? raw : context.Request.Path + context.Request.QueryString;

    private PeerAuthentication Refuse(string path, string token, string reason)
    {
        TlsLog.TokenRefused(logger, RouteTableParser.Truncate(path), RouteTableParser.Truncate(RequestToken.ClaimedParty(token)), reason);
        return PeerAuthentication.Refused(reason);
    }

    /// <summary>The whole body in memory, or null when it is larger than <paramref name="limit"/>.</summary>
    private static async Task<MemoryStream?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        var body = new MemoryStream(request.ContentLength is { } length ? (int)length : 0);
        try
        {
            await new LimitedReadStream(request.Body, limit).CopyToAsync(body, cancellationToken);
        }
        catch (BodyTooLargeException)
        {
            return null;
        }

        body.Position = 0;
        return body;
    }
}
