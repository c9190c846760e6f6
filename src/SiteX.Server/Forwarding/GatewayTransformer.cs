using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using SiteX.Server.Security;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding;

/// <summary>
/// YARP's view of the forwarding header rules (<see cref="ForwardedHeaders"/>, shared with the HTTP/2 relay): the
/// request's headers are the list <see cref="ForwardedHeaders.WriteRequest"/> enumerates, the response's headers and
/// trailers are copied without hop-by-hop headers and without the headers the response's <c>Connection</c> names.
/// One shared instance: per-call data comes from the <see cref="ForwardingPlan"/> feature.
/// </summary>
internal sealed class GatewayTransformer : HttpTransformer
{
    public static GatewayTransformer Instance { get; } = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        var plan = httpContext.Features.Get<ForwardingPlan>()!;
        if (proxyRequest.Content is null && HasContentHeaders(httpContext.Request.Headers))
        {
            // A bodiless request with content headers (Content-Length: 0, say): only YARP may attach the empty content
            // that carries them, which its own header copy does. Keep that content, not the copy.
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            proxyRequest.Headers.Clear();
            proxyRequest.Content?.Headers.Clear();
        }

        // YARP fills in the URI only after the transform: a request token must sign the one that is sent.
        proxyRequest.RequestUri ??= RequestUtilities.MakeDestinationAddress(destinationPrefix, httpContext.Request.Path, httpContext.Request.QueryString);
        var sink = new RequestMessageSink(proxyRequest);
        ForwardedHeaders.WriteRequest(httpContext, plan, proxyRequest.Method.Method, proxyRequest.RequestUri.PathAndQuery, ref sink);
    }

    private static bool HasContentHeaders(IHeaderDictionary headers) =>
        headers.ContentLength is not null || headers.ContainsKey(HeaderNames.ContentType) || headers.ContainsKey(HeaderNames.ContentEncoding)
        || headers.ContainsKey(HeaderNames.ContentLanguage) || headers.ContainsKey(HeaderNames.ContentDisposition) || headers.ContainsKey(HeaderNames.ContentRange)
        || headers.ContainsKey(HeaderNames.ContentLocation) || headers.ContainsKey(HeaderNames.ContentMD5) || headers.ContainsKey(HeaderNames.Expires)
        || headers.ContainsKey(HeaderNames.LastModified) || headers.ContainsKey(HeaderNames.Allow);

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
        {
            return new ValueTask<bool>(false);
        }

        var headers = httpContext.Response.Headers;
        Copy(proxyResponse.Headers, headers);
        if (proxyResponse.Content is not null)
        {
            Copy(proxyResponse.Content.Headers, headers);

            // RFC 9112 6.3: with both, Transfer-Encoding wins and Content-Length must not be passed on.
            if (proxyResponse.Headers.NonValidated.Contains(HeaderNames.TransferEncoding) && proxyResponse.Content.Headers.NonValidated.Contains(HeaderNames.ContentLength))
            {
                headers.Remove(HeaderNames.ContentLength);
            }
        }

        if (proxyResponse.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
        {
            ForwardedHeaders.RemoveNamedIn(headers, connection);
        }

        return new ValueTask<bool>(true);
    }

    public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken)
    {
        if (httpContext.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { IsReadOnly: false } trailers)
        {
            Copy(proxyResponse.TrailingHeaders, trailers);
        }

        // YARP copies trailers only after the whole response body was copied.
        httpContext.Features.Get<ForwardingPlan>()!.ResponseCompleted = true;
        return default;
    }

    private static void Copy(HttpHeaders source, IHeaderDictionary destination)
    {
        foreach (var header in source)
        {
            ForwardedHeaders.AppendResponse(destination, header.Key, header.Value as string[] ?? [.. header.Value]);
        }
    }

    /// <summary>Adds forwarded headers to an <see cref="HttpRequestMessage"/>, content headers to its content.</summary>
    private readonly struct RequestMessageSink(HttpRequestMessage request) : IForwardedHeaderSink
    {
        public void Add(string name, StringValues values)
        {
            // HttpClient would join several Cookie values with ',' instead of ';'.
            if (values.Count > 1 && name.Equals(HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase))
            {
                values = string.Join("; ", values.ToArray());
            }

            if (values.Count == 1 ? request.Headers.TryAddWithoutValidation(name, values.ToString()) : request.Headers.TryAddWithoutValidation(name, values.ToArray()))
            {
                return;
            }

            // A content header (Content-Type, Content-Length, ...): it lives on the content (YARP's empty one for a
            // bodiless request, see TransformRequestAsync).
            _ = values.Count == 1
                ? request.Content?.Headers.TryAddWithoutValidation(name, values.ToString())
                : request.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }
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
