using System.Net;
using System.Net.Http;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Http;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Server.Forwarding;

/// <summary>
/// The client side of the interconnection standard's <c>POST /v1/interconn/chan/invoke</c>: sends
/// <c>{"payload": base64}</c> with <c>x-ptp-*</c> headers to a peer gateway whose route is an HTTP <c>url</c> (a Java
/// OSX or SiteX HTTP port) and reads back <c>{"code","message","payload"}</c>. Connections come from the shared
/// <see cref="NextHopClientPool"/> (HTTP/1.1 keep-alive).
/// </summary>
internal sealed class InterconnClient(NextHopClientPool clients, IOptions<SiteXOptions> options, ILogger<InterconnClient> logger)
{
    public const string InvokePath = "/v1/interconn/chan/invoke";

    /// <summary>Where an invoke goes: the route's url as written, or the standard invoke path when the url has none.</summary>
    public static Uri InvokeUri(RouteDestination endpoint)
    {
        var url = new Uri(endpoint.Config.Url!);
        return url.AbsolutePath is "" or "/" ? new Uri(url, InvokePath) : url;
    }

    /// <summary>The digest of the invoke body <see cref="InvokeContent"/> writes for <paramref name="payload"/>, or
    /// <see cref="RequestToken.UnsignedPayload"/> when that body is larger than <paramref name="maxSignedBytes"/>.</summary>
    public static string BodyDigest(ByteString payload, int maxSignedBytes)
    {
        using var content = new InvokeContent(payload);
        if (content.Length > maxSignedBytes)
        {
            return RequestToken.UnsignedPayload;
        }

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        content.Write(hash.AppendData);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public async Task<InvokeReply> InvokeAsync(RouteDestination endpoint, IReadOnlyList<KeyValuePair<string, string>> headers, ByteString payload, DateTime? deadline,
        string self, string target, string? traceId, CancellationToken cancellationToken)
    {
        var uri = InvokeUri(endpoint);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = uri.Scheme == Uri.UriSchemeHttps ? HttpVersionPolicy.RequestVersionOrHigher : HttpVersionPolicy.RequestVersionExact,
            Content = new InvokeContent(payload),
        };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (deadline is { } due)
        {
            timeout.CancelAfter(due - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        var hop = $"the next gateway for party {target}";
        try
        {
            using var response = await clients.Get(endpoint).SendAsync(request, timeout.Token);
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var ok = response.StatusCode == HttpStatusCode.OK;
            ChanInvokeReply? reply = null;
            try
            {
                var limited = new LimitedReadStream(body, ok ? options.Value.MaxLocalMessageBytes : 64 * 1024);
                reply = await JsonSerializer.DeserializeAsync(limited, ChanJsonContext.Default.ChanInvokeReply, timeout.Token);
            }
            catch (Exception ex) when (!ok && ex is JsonException or BodyTooLargeException)
            {
                // An error status without a usable body: the status is all there is to report.
            }

            if (!ok && reply?.Code is null)
            {
                ForwardingLog.InterconnFailed(logger, target, endpoint.Display, $"HTTP {(int)response.StatusCode}", traceId, null);
                return InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: {hop} answered the invoke with HTTP {(int)response.StatusCode}");
            }

            if (reply?.Code is null)
            {
                ForwardingLog.InterconnFailed(logger, target, endpoint.Display, "reply without a code", traceId, null);
                return InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: {hop} answered the invoke without a \"code\"");
            }

            // A JSON error with a code (a SiteX peer's 4xx for an envelope it could not read) is the peer's answer.
            var payloadBytes = reply.Payload is null ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(reply.Payload);
            return new InvokeReply(GatewayError.None, reply.Code, reply.Message ?? reply.Msg ?? "", payloadBytes);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return InvokeReply.Failed(GatewayError.Canceled, $"SiteX gateway {self}: the call to party {target} was cancelled by the caller");
        }
        catch (OperationCanceledException) when (deadline is not null)
        {
            return InvokeReply.Failed(GatewayError.NextHopTimeout, $"SiteX gateway {self}: deadline exceeded waiting for {hop}");
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
        {
            ForwardingLog.InterconnFailed(logger, target, endpoint.Display, ex.HttpRequestError.ToString(), traceId, null);
            if (NextHopTlsException.Find(ex) is { } tls)
            {
                OutboundTlsLog.HandshakeFailed(logger, target, tls.Message, traceId);
                return InvokeReply.Failed(GatewayError.NextHopUnreachable, $"SiteX gateway {self}: TLS handshake with {hop} failed: {tls.SafeReason}");
            }

            return InvokeReply.Failed(GatewayError.NextHopUnreachable, $"SiteX gateway {self}: {hop} is unreachable");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            ForwardingLog.InterconnFailed(logger, target, endpoint.Display, ex.GetType().Name, traceId, ex);
            return InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: {hop} failed during the invoke");
        }
        catch (JsonException)
        {
            ForwardingLog.InterconnFailed(logger, target, endpoint.Display, "reply is not JSON", traceId, null);
            return InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: {hop} answered the invoke with a body that is not interconnection JSON");
        }
        catch (BodyTooLargeException ex)
        {
            ForwardingLog.InterconnFailed(logger, target, endpoint.Display, ex.Message, traceId, null);
            return InvokeReply.Failed(GatewayError.NextHopFailed, $"SiteX gateway {self}: {hop} answered the invoke with more than {ex.Limit} bytes");
        }
    }

    /// <summary><c>{"payload":"&lt;base64&gt;"}</c> written straight to the connection, with its exact length.</summary>
    private sealed class InvokeContent : HttpContent
    {
        private static readonly byte[] s_prefix = "{\"payload\":\""u8.ToArray();
        private static readonly byte[] s_suffix = "\"}"u8.ToArray();
        private const int Chunk = 48 * 1024; // a multiple of 3: each chunk encodes without padding
        private readonly ByteString _payload;

        public InvokeContent(ByteString payload)
        {
            _payload = payload;
            // Exactly as OSX writes it: a parsed MediaTypeHeaderValue would go out as "application/json; charset=UTF-8".
            Headers.TryAddWithoutValidation("Content-Type", ChanJson.ContentType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(s_prefix, cancellationToken);
            var encoded = new byte[Chunk / 3 * 4];
            for (var offset = 0; offset < _payload.Length; offset += Chunk)
            {
                await stream.WriteAsync(Encode(offset, encoded), cancellationToken);
            }

            await stream.WriteAsync(s_suffix, cancellationToken);
        }

        /// <summary>The same bytes as <see cref="SerializeToStreamAsync(Stream, TransportContext?, CancellationToken)"/>,
        /// to a synchronous sink (a hash).</summary>
        public void Write(Action<ReadOnlySpan<byte>> sink)
        {
            sink(s_prefix);
            var encoded = new byte[Chunk / 3 * 4];
            for (var offset = 0; offset < _payload.Length; offset += Chunk)
            {
                sink(Encode(offset, encoded).Span);
            }

            sink(s_suffix);
        }

        private ReadOnlyMemory<byte> Encode(int offset, byte[] encoded)
        {
            var part = _payload.Memory.Slice(offset, Math.Min(Chunk, _payload.Length - offset));
            System.Buffers.Text.Base64.EncodeToUtf8(part.Span, encoded, out _, out var written);
            return encoded.AsMemory(0, written);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        public long Length => s_prefix.Length + ((long)_payload.Length + 2) / 3 * 4 + s_suffix.Length;

        protected override bool TryComputeLength(out long length)
        {
            length = Length;
            return true;
        }
    }
}
