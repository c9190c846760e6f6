using System.Collections.Frozen;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using SiteX.Protocol;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding;

/// <summary>Receives the headers of a forwarded request one name at a time (<see cref="ForwardedHeaders.WriteRequest"/>).</summary>
internal interface IForwardedHeaderSink
{
    void Add(string name, StringValues values);
}

/// <summary>
/// The header rules of forwarding, in one place for both engines (YARP's <see cref="GatewayTransformer"/> and the
/// HTTP/2 relay): which of the caller's headers go on, which are replaced, and which response headers and trailers
/// come back.
/// </summary>
/// <remarks>
/// Requests: hop-by-hop headers (<c>Connection</c>, <c>Keep-Alive</c>, <c>Transfer-Encoding</c>, <c>Upgrade</c>,
/// <c>Proxy-*</c>, <c>TE</c> except <c>trailers</c> from an HTTP/2 caller, ...), pseudo headers, headers named in
/// <c>Connection</c> (RFC 9110 7.6.1) and <c>Host</c> (the next hop gets its own authority) stay behind; the hop
/// counter and via list (loop detection), the target headers (when this gateway routed by a binding or a Packet),
/// the remaining deadline, the tech-provider code a Java OSX next hop insists on, the source of a proven peer that
/// named none, and the request token of a peer that signs (<see cref="RequestTokens"/>) are set. Incoming SiteX hop
/// tokens never go on: they were for this gateway. Responses: the same hop-by-hop headers stay behind, both in headers
/// and trailers, and so do headers the response's <c>Connection</c> names.
/// </remarks>
internal static class ForwardedHeaders
{
    // The hop-by-hop and proxy-control headers no forwarder passes on, either way.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.TransferEncoding, HeaderNames.KeepAlive, HeaderNames.Upgrade, "Proxy-Connection",
        "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization", "Proxy-Features", "Proxy-Instruction",
        "Security-Scheme", "ALPN", "Close", HeaderNames.TE, HeaderNames.AltSvc,
    };

    /// <summary>Whether <paramref name="name"/> is hop by hop: never forwarded in a request, response or trailers.</summary>
    public static bool IsHopByHop(string name) => HopByHop.Contains(name);

    /// <summary>What the request rules do with a header, by name: one lookup per header on the hot path.</summary>
    private enum Rule
    {
        HopByHop,
        Host,
        Replaced,
        Target,
        TargetService,
        Deadline,
        Token,
        ContentLength,
        TechProviderCode,
    }

    private static readonly FrozenDictionary<string, Rule> Rules = HopByHop.Select(n => KeyValuePair.Create(n, Rule.HopByHop))
        .Concat(
        [
            KeyValuePair.Create(HeaderNames.Host, Rule.Host),
            KeyValuePair.Create(SiteXHeaders.Hops, Rule.Replaced),
            KeyValuePair.Create(SiteXHeaders.Via, Rule.Replaced),
            KeyValuePair.Create(PtpHeaders.TargetNodeId, Rule.Target),
            KeyValuePair.Create(PtpHeaders.TargetComponentName, Rule.TargetService),
            KeyValuePair.Create("grpc-timeout", Rule.Deadline),
            KeyValuePair.Create(PtpHeaders.Token, Rule.Token),
            KeyValuePair.Create(RequestToken.DigestHeader, Rule.Token),
            KeyValuePair.Create(HeaderNames.ContentLength, Rule.ContentLength),
            KeyValuePair.Create(PtpHeaders.TechProviderCode, Rule.TechProviderCode),
        ])
        .ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Enumerates the headers of the request forwarded for <paramref name="context"/> by <paramref name="plan"/>
    /// (without pseudo headers) into <paramref name="sink"/>. <paramref name="method"/> and
    /// <paramref name="pathAndQuery"/> are what the next hop receives; a request token signs them.
    /// </summary>
    public static void WriteRequest<TSink>(HttpContext context, ForwardingPlan plan, string method, string pathAndQuery, ref TSink sink)
        where TSink : IForwardedHeaderSink
    {
        var headers = context.Request.Headers;
        var connection = headers.Connection;
        var dropContentLength = headers.ContainsKey(HeaderNames.TransferEncoding) && headers.ContainsKey(HeaderNames.ContentLength);
        var dropTokens = plan.Signer is not null || HasHopToken(headers);
        var call = plan.Call;
        string? target = null;
        var hasTechProviderCode = false;
        foreach (var (name, values) in headers)
        {
            if (name.Length == 0 || name[0] == ':' || (connection.Count > 0 && NamedIn(connection, name)) || ContainsNewLines(values))
            {
                continue;
            }

            if (Rules.TryGetValue(name, out var rule))
            {
                var skip = rule switch
                {
                    Rule.HopByHop or Rule.Host or Rule.Replaced => true,
                    Rule.Target or Rule.TargetService => plan.AddTargetHeaders,
                    Rule.Deadline => plan.Deadline is not null,
                    Rule.Token => dropTokens,
                    Rule.ContentLength => dropContentLength,
                    _ => false,
                };
                if (skip)
                {
                    continue;
                }

                if (rule == Rule.Target)
                {
                    target = values[0];
                }
                else if (rule == Rule.TechProviderCode)
                {
                    hasTechProviderCode = true;
                }
            }

            sink.Add(name, values);
        }

        // RFC 9113 8.2.2: TE may cross HTTP/2 with "trailers" only (gRPC servers want it).
        if (HttpProtocol.IsHttp2(context.Request.Protocol) || HttpProtocol.IsHttp3(context.Request.Protocol))
        {
            foreach (var te in headers.GetCommaSeparatedValues(HeaderNames.TE))
            {
                if (te.Equals("trailers", StringComparison.OrdinalIgnoreCase))
                {
                    sink.Add("te", "trailers");
                    break;
                }
            }
        }

        sink.Add(SiteXHeaders.Hops, (plan.Hops + 1).ToString(CultureInfo.InvariantCulture));
        sink.Add(SiteXHeaders.Via, plan.Via);
        if (plan.AddTargetHeaders)
        {
            target = call.TargetParty;
            sink.Add(PtpHeaders.TargetNodeId, call.TargetParty);
            sink.Add(PtpHeaders.TargetComponentName, call.Service);
        }

        // A call from a proven peer that named no source carries its source on: the next hop sees who sent it.
        if (call.Ingress == IngressKind.InterSite && call.SourceParty is { } source && !NamesSource(headers))
        {
            sink.Add(PtpHeaders.SourceNodeId, source);
        }

        if (plan.RequireTechProviderCode && !hasTechProviderCode)
        {
            sink.Add(PtpHeaders.TechProviderCode, "FATE");
        }

        if (plan.Deadline is { } deadline)
        {
            sink.Add("grpc-timeout", GrpcDeadline.Format(deadline - DateTime.UtcNow));
        }

        // A peer this gateway shares a key with gets a fresh token over the request as it leaves (the body is a
        // stream, so its digest is not signed).
        if (plan.Signer is { } signer
            && signer.Tokens.Sign(signer.Peer, signer.Self, target ?? "", method, pathAndQuery, RequestToken.UnsignedPayload) is { } token)
        {
            sink.Add(PtpHeaders.Token, token);
            sink.Add(RequestToken.DigestHeader, RequestToken.UnsignedPayload);
        }
    }

    private static bool HasHopToken(IHeaderDictionary headers)
    {
        foreach (var value in headers[PtpHeaders.Token])
        {
            if (RequestTokens.IsHopToken(value))
            {
                return true;
            }
        }

        return false;
    }

    private static bool NamesSource(IHeaderDictionary headers) =>
        headers.ContainsKey(PtpHeaders.SourceNodeId) || headers.ContainsKey(PtpHeaders.FromNodeId)
        || headers.ContainsKey(PtpHeaders.SourceInstId) || headers.ContainsKey(PtpHeaders.FateSrcPartyId);

    /// <summary>Whether a <c>Connection</c> header value (comma-separated tokens) names <paramref name="name"/>.</summary>
    public static bool NamedIn(StringValues connection, string name)
    {
        foreach (var value in connection)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan(range).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool ContainsNewLines(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null && value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Appends a response header or trailer to <paramref name="destination"/> unless it is hop by hop.</summary>
    public static void AppendResponse(IHeaderDictionary destination, string name, StringValues values)
    {
        if (!HopByHop.Contains(name))
        {
            destination[name] = destination.TryGetValue(name, out var existing) ? StringValues.Concat(existing, values) : values;
        }
    }

    /// <summary>Removes from <paramref name="destination"/> the headers a response's <c>Connection</c> values name.</summary>
    public static void RemoveNamedIn(IHeaderDictionary destination, IEnumerable<string> connection)
    {
        foreach (var value in connection)
        {
            foreach (var name in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                destination.Remove(name);
            }
        }
    }
}
