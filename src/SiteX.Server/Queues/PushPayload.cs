using System.Text.Json;
using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Http;

namespace SiteX.Server.Queues;

/// <summary>
/// The two encodings of a queue push carried inside an <c>invoke</c>: a serialized <c>PushInbound</c> (what OSX
/// sends over gRPC) and the JSON ProduceRequest <c>{"topic","payload","msgCode","msgFlag"}</c> with the message as
/// base64 (what OSX sends over HTTP). SiteX reads either on either transport and writes the one the next hop's
/// transport expects, so a push survives any mix of gRPC and HTTP hops.
/// </summary>
internal static class PushPayload
{
    private const string MsgCode = "msgCode";
    private const string MsgFlag = "msgFlag";

    /// <summary>Decodes either encoding. A JSON object is recognised by its first byte <c>{</c> after spaces, tabs or
    /// CRs: none of these can start a serialized <c>PushInbound</c> (<c>{</c> would be field 15 with the deprecated
    /// group wire type). A newline is not skipped: it is the tag of the <c>topic</c> field.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, out PushInbound push, out string error)
    {
        error = "";
        if (IsJson(bytes.Span))
        {
            ChanPushBody? body;
            try
            {
                body = JsonSerializer.Deserialize(bytes.Span, ChanJsonContext.Default.ChanPushBody);
            }
            catch (JsonException)
            {
                push = new PushInbound();
                error = "the push in the invoke payload is not valid JSON ({\"topic\", \"payload\": base64, \"msgCode\", \"msgFlag\"})";
                return false;
            }

            if (body?.Payload is null)
            {
                push = new PushInbound();
                error = "the push in the invoke payload has no \"payload\" (standard base64 of the message)";
                return false;
            }

            push = FromJson(body);
            return true;
        }

        try
        {
            push = PushInbound.Parser.ParseFrom(bytes.Span);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            push = new PushInbound();
            error = "the invoke payload for a push is neither a serialized PushInbound nor a JSON ProduceRequest";
            return false;
        }
    }

    /// <summary><see cref="TryDecode"/> for storing: a serialized <c>PushInbound</c> that <see cref="PushView"/> reads
    /// stays in <paramref name="bytes"/> (its payload is not copied out), anything else is decoded.</summary>
    public static bool TryRead(ReadOnlyMemory<byte> bytes, out PushMessage push, out string error)
    {
        if (!IsJson(bytes.Span) && PushView.TryRead(bytes.Span, out var view))
        {
            (push, error) = (PushMessage.FromSerialized(bytes, view), "");
            return true;
        }

        var decoded = TryDecode(bytes, out var parsed, out error);
        push = parsed;
        return decoded;
    }

    /// <summary>A JSON push body as a <c>PushInbound</c>; <c>msgCode</c>/<c>msgFlag</c> go to its metadata.</summary>
    public static PushInbound FromJson(ChanPushBody body)
    {
        var push = new PushInbound { Topic = body.Topic ?? "", Payload = UnsafeByteOperations.UnsafeWrap(body.Payload ?? []) };
        if (!string.IsNullOrEmpty(body.MsgCode))
        {
            push.Metadata[MsgCode] = body.MsgCode;
        }

        if (!string.IsNullOrEmpty(body.MsgFlag))
        {
            push.Metadata[MsgFlag] = body.MsgFlag;
        }

        return push;
    }

    /// <summary>The JSON ProduceRequest OSX expects inside an HTTP invoke (empty msgCode/msgFlag written as "").</summary>
    public static ByteString ToJson(PushInbound push)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(push.Payload.Length / 3 * 4 + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("topic", push.Topic);
            writer.WriteBase64String("payload", push.Payload.Span);
            writer.WriteString(MsgCode, push.Metadata.TryGetValue(MsgCode, out var code) ? code : "");
            writer.WriteString(MsgFlag, push.Metadata.TryGetValue(MsgFlag, out var flag) ? flag : "");
            writer.WriteEndObject();
        }

        return UnsafeByteOperations.UnsafeWrap(buffer.WrittenMemory);
    }

    /// <summary>The push re-encoded for a next hop that speaks <paramref name="http"/> (JSON) or gRPC (protobuf);
    /// bytes already in the right encoding are passed on untouched.</summary>
    public static ByteString For(bool http, ByteString payload)
    {
        var json = IsJson(payload.Span);
        if (json == http || !TryDecode(payload.Memory, out var push, out _))
        {
            return payload;
        }

        return http ? ToJson(push) : push.ToByteString();
    }

    private static bool IsJson(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r')
            {
                continue;
            }

            return b == (byte)'{';
        }

        return false;
    }
}
