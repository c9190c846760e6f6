using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using SiteX.Protocol;
using SiteX.Server.Security;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Adjusts a forwarded request: the next hop's own authority as <c>Host</c>, the hop counter and via list (loop
/// detection), the target headers the next gateway routes by (when this gateway routed by a binding or a Packet), the
/// remaining deadline, the tech-provider code a Java OSX next hop insists on, and, for a call from a proven peer that
/// named no source, <c>x-ptp-source-node-id</c> with its source; and the request token of a peer that signs
/// (<see cref="RequestTokens"/>). YARP already drops the hop-by-hop
/// headers (<c>Connection</c>, <c>Keep-Alive</c>, <c>Transfer-Encoding</c>, <c>TE</c>, <c>Upgrade</c>,
/// <c>Proxy-*</c>); this also drops the headers an HTTP/1.1 message names in its <c>Connection</c> header, both ways
/// (RFC 9110 7.6.1). One shared instance: per-call data comes from the <see cref="ForwardingPlan"/> feature.
/// </summary>
internal sealed class GatewayTransformer : HttpTransformer
{
    public static GatewayTransformer Instance { get; } = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var plan = httpContext.Features.Get<ForwardingPlan>()!;
        var headers = proxyRequest.Headers;

        // The next hop gets its own authority as Host, not the one the caller used for this gateway: a service behind
        // another site's gateway has no use for this site's gateway address, and should not learn it.
        headers.Host = null;
        foreach (var name in httpContext.Request.Headers.GetCommaSeparatedValues(HeaderNames.Connection))
        {
            // NonValidated.Contains is false for names that are not tokens (which Remove would throw on).
            if (headers.NonValidated.Contains(name))
            {
                headers.Remove(name);
            }
            else if (proxyRequest.Content?.Headers.NonValidated.Contains(name) == true)
            {
                proxyRequest.Content.Headers.Remove(name);
            }
        }

        headers.Remove(SiteXHeaders.Hops);
        headers.TryAddWithoutValidation(SiteXHeaders.Hops, (plan.Hops + 1).ToString(CultureInfo.InvariantCulture));
        headers.Remove(SiteXHeaders.Via);
        headers.TryAddWithoutValidation(SiteXHeaders.Via, plan.Via);

        if (plan.AddTargetHeaders)
        {
            headers.Remove(PtpHeaders.TargetNodeId);
            headers.TryAddWithoutValidation(PtpHeaders.TargetNodeId, plan.Call.TargetParty);
            headers.Remove(PtpHeaders.TargetComponentName);
            headers.TryAddWithoutValidation(PtpHeaders.TargetComponentName, plan.Call.Service);
        }

        // A call from a proven peer that named no source carries its source on: the next hop sees who sent it.
        if (plan.Call.Ingress == IngressKind.InterSite && plan.Call.SourceParty is { } source && !NamesSource(httpContext.Request.Headers))
        {
            headers.TryAddWithoutValidation(PtpHeaders.SourceNodeId, source);
        }

        if (plan.RequireTechProviderCode && !headers.Contains(PtpHeaders.TechProviderCode))
        {
            headers.TryAddWithoutValidation(PtpHeaders.TechProviderCode, "FATE");
        }

        if (plan.Deadline is { } deadline)
        {
            headers.Remove("grpc-timeout");
            headers.TryAddWithoutValidation("grpc-timeout", GrpcDeadline.Format(deadline - DateTime.UtcNow));
        }

        // Request tokens are hop by hop: the one that came in was for this gateway. A peer this gateway shares a key
        // with gets a fresh one, over the request as it leaves (the body is a stream, so its digest is not signed).
        if (headers.NonValidated.TryGetValues(PtpHeaders.Token, out var tokens) && tokens.Any(RequestTokens.IsHopToken))
        {
            headers.Remove(PtpHeaders.Token);
            headers.Remove(RequestToken.DigestHeader);
        }

        if (plan.Signer is { } signer)
        {
            // YARP fills in the URI only after the transform: the token must sign the one that is sent.
            proxyRequest.RequestUri ??= RequestUtilities.MakeDestinationAddress(destinationPrefix, httpContext.Request.Path, httpContext.Request.QueryString);
            signer.Tokens.SignInto(headers, signer.Peer, signer.Self, proxyRequest.Method.Method, proxyRequest.RequestUri.PathAndQuery, RequestToken.UnsignedPayload);
        }
    }

    private static bool NamesSource(IHeaderDictionary headers) =>
        headers.ContainsKey(PtpHeaders.SourceNodeId) || headers.ContainsKey(PtpHeaders.FromNodeId)
        || headers.ContainsKey(PtpHeaders.SourceInstId) || headers.ContainsKey(PtpHeaders.FateSrcPartyId);

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is not null && proxyResponse.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
        {
            foreach (var value in connection)
            {
                foreach (var name in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    httpContext.Response.Headers.Remove(name);
                }
            }
        }

        return copyBody;
    }

    public override async ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken)
    {
        await base.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);

        // YARP copies trailers only after the whole response body was copied.
        httpContext.Features.Get<ForwardingPlan>()!.ResponseCompleted = true;
    }
}

/// <summary>Who signs a forwarded request: this gateway (<paramref name="Self"/>) with the key it shares with
/// <paramref name="Peer"/>.</summary>
internal sealed record TokenSigner(RequestTokens Tokens, string Peer, string Self);

/// <summary>How one call is forwarded; set as a request feature for the transformer.</summary>
internal sealed class ForwardingPlan(GatewayCall call)
{
    public GatewayCall Call { get; } = call;

    public int Hops { get; init; }

    /// <summary>The via list including this gateway.</summary>
    public string Via { get; init; } = "";

    public bool AddTargetHeaders { get; init; }

    public bool RequireTechProviderCode { get; init; }

    public DateTime? Deadline { get; init; }

    /// <summary>Signs the request for the next hop, a peer gateway this gateway shares a token key with.</summary>
    public TokenSigner? Signer { get; init; }

    /// <summary>Set once the next hop's whole response (body and trailers) has been copied to the caller.</summary>
    public bool ResponseCompleted { get; set; }
}
