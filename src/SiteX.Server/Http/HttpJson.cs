using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace SiteX.Server.Http;

/// <summary><c>POST /v1/interconn/chan/push</c> body. <c>byte[]</c> is read as standard base64, as Jackson writes it.</summary>
internal sealed class ChanPushBody
{
    public string? Topic { get; set; }

    public byte[]? Payload { get; set; }

    public string? MsgCode { get; set; }

    public string? MsgFlag { get; set; }
}

/// <summary><c>POST /v1/interconn/chan/pop</c> body; <c>timeout</c> in milliseconds.</summary>
internal sealed class ChanPopBody
{
    public string? Topic { get; set; }

    public long? Timeout { get; set; }
}

/// <summary><c>peek</c> and <c>release</c> bodies.</summary>
internal sealed class ChanTopicBody
{
    public string? Topic { get; set; }
}

/// <summary><c>POST /v1/interconn/chan/invoke</c> body: the <c>Inbound</c> payload as base64.</summary>
internal sealed class ChanInvokeBody
{
    public byte[]? Payload { get; set; }
}

/// <summary>The answer to an invoke (OSX writes <c>message</c>; <c>msg</c> is read too, as the other endpoints use it).</summary>
internal sealed class ChanInvokeReply
{
    public string? Code { get; set; }

    public string? Message { get; set; }

    public string? Msg { get; set; }

    public byte[]? Payload { get; set; }
}

[JsonSerializable(typeof(ChanPushBody))]
[JsonSerializable(typeof(ChanInvokeBody))]
[JsonSerializable(typeof(ChanInvokeReply))]
[JsonSerializable(typeof(ChanPopBody))]
[JsonSerializable(typeof(ChanTopicBody))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
internal sealed partial class ChanJsonContext : JsonSerializerContext;

/// <summary>A request body over its limit.</summary>
internal sealed class BodyTooLargeException(long limit) : Exception($"the request body is larger than {limit} bytes")
{
    public long Limit { get; } = limit;
}

/// <summary>Reads a request body as a stream, failing with <see cref="BodyTooLargeException"/> as soon as it passes
/// its limit (so an oversized body costs at most the limit in memory).</summary>
internal sealed class LimitedReadStream(Stream inner, long limit) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("synchronous reads are not allowed");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        BytesRead += read;
        if (BytesRead > limit)
        {
            throw new BodyTooLargeException(limit);
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Writes the JSON answers of the HTTP binding: <c>application/json;charset=UTF-8</c>, null fields omitted,
/// bytes as standard base64 (always single-encoded, unlike OSX's immediate pops).</summary>
internal static class ChanJson
{
    public const string ContentType = "application/json;charset=UTF-8";

    public static Task WriteReplyAsync(HttpContext context, string code, string message, ReadOnlyMemory<byte>? payload, string messageField = "msg") =>
        WriteAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteString("code", code);
            writer.WriteString(messageField, message);
            if (payload is { } bytes)
            {
                writer.WriteBase64String("payload", bytes.Span);
            }
        });

    public static Task WriteErrorAsync(HttpContext context, int status, string error, string message, string code = SiteX.Protocol.PtpCodes.InvalidRequest) =>
        WriteAsync(context, status, writer =>
        {
            writer.WriteString("code", code);
            writer.WriteString("error", error);
            writer.WriteString("message", message);
        });

    private static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> fields)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        await using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            writer.WriteStartObject();
            fields(writer);
            writer.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}
