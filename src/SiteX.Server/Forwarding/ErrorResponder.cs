using System.Buffers.Binary;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;

namespace SiteX.Server.Forwarding;

/// <summary>How a caller expects to hear about an error.</summary>
internal enum ErrorStyle
{
    /// <summary>A trailers-only gRPC response with <c>grpc-status</c> and <c>grpc-message</c>.</summary>
    GrpcStatus,
    /// <summary>A successful gRPC response carrying a PTP <c>Outbound</c> with the error code (PTP invoke).</summary>
    PtpOutbound,
    /// <summary>A successful gRPC response carrying a PTP <c>TransportOutbound</c> (queue operations).</summary>
    PtpTransportOutbound,
    /// <summary>An HTTP status with a JSON body <c>{"code","message"}</c>.</summary>
    Json,
}

/// <summary>Writes SiteX's own errors to callers. Only the call's safe message crosses; never exception text.</summary>
internal static class ErrorResponder
{
    private const int Http2CancelCode = 0x8;

    public static ErrorStyle StyleFor(HttpContext context, string path) =>
        path == PtpMethods.Invoke ? ErrorStyle.PtpOutbound
        : IsGrpc(context.Request.ContentType) ? ErrorStyle.GrpcStatus
        : ErrorStyle.Json;

    public static bool IsGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    public static Task WriteAsync(HttpContext context, GatewayCall call, GatewayError error, string message, ErrorStyle style)
    {
        call.Error = error;
        call.ErrorMessage = message;
        if (context.Response.HasStarted)
        {
            // Mid-stream. A gRPC caller that is still there gets the status in the trailers (a reset would reach it
            // as INTERNAL); the non-OK status also tells it that the replies so far are not the whole response.
            if (style == ErrorStyle.GrpcStatus && error != GatewayError.Canceled && context.Response.SupportsTrailers())
            {
                var midStreamStatus = (int)GatewayErrors.ToGrpcStatus(error);
                call.StatusCode = midStreamStatus.ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.AppendTrailer(SiteXHeaders.Error, GatewayErrors.Name(error));
                context.Response.AppendTrailer("grpc-status", call.StatusCode);
                context.Response.AppendTrailer("grpc-message", PercentEncode(message));
                return Task.CompletedTask;
            }

            // Otherwise the only thing left to do is end the call; the client sees it as reset.
            // A cancelled call is reset with CANCEL (clients report Cancelled), anything else with the code asked for.
            if (context.Features.Get<IHttpResetFeature>() is not DeferredResetFeature deferred
                || !deferred.TryResetNow(error == GatewayError.Canceled ? Http2CancelCode : null))
            {
                context.Abort();
            }

            return Task.CompletedTask;
        }

        context.Response.Headers[SiteXHeaders.Error] = GatewayErrors.Name(error);
        switch (style)
        {
            case ErrorStyle.PtpOutbound:
                call.StatusCode = GatewayErrors.ToPtpCode(error);
                return WriteGrpcMessageAsync(context, new Outbound { Code = call.StatusCode, Message = message });
            case ErrorStyle.PtpTransportOutbound:
                call.StatusCode = GatewayErrors.ToPtpCode(error);
                return WriteGrpcMessageAsync(context, new TransportOutbound { Code = call.StatusCode, Message = message });
            case ErrorStyle.GrpcStatus:
                var status = (int)GatewayErrors.ToGrpcStatus(error);
                call.StatusCode = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = call.StatusCode;
                context.Response.Headers["grpc-message"] = PercentEncode(message);
                return Task.CompletedTask;
            default:
                var http = GatewayErrors.ToHttpStatus(error);
                call.StatusCode = http.ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.StatusCode = http;
                context.Response.ContentType = "application/json; charset=utf-8";
                return context.Response.WriteAsync(JsonSerializer.Serialize(new JsonError(GatewayErrors.ToPtpCode(error), GatewayErrors.Name(error), message), JsonErrorContext.Default.JsonError));
        }
    }

    /// <summary>Writes one length-prefixed gRPC message and an OK status in the trailers. The message is serialized
    /// straight into the response pipe (a popped 1 MiB message is copied once, into no array of its own).</summary>
    public static async Task WriteGrpcMessageAsync(HttpContext context, IMessage message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        var writer = response.BodyWriter;
        var prefix = writer.GetSpan(5);
        prefix[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(prefix[1..], (uint)message.CalculateSize());
        writer.Advance(5);
        message.WriteTo(writer);
        await writer.FlushAsync();
        response.AppendTrailer("grpc-status", "0");
    }

    /// <summary>Percent-encodes a grpc-message as the gRPC spec requires (non-ASCII and '%').</summary>
    public static string PercentEncode(string message)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(message);
        var builder = new System.Text.StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}

internal sealed record JsonError(string Code, string Error, string Message);

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonError))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class JsonErrorContext : System.Text.Json.Serialization.JsonSerializerContext;
