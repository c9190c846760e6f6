using System.Text;
using SiteX.Server.Internal;

namespace SiteX.Server.Queues;

/// <summary>
/// What routing and storing need from a serialized <c>PushInbound</c> (<c>topic = 1</c>, <c>payload = 2</c>,
/// <c>metadata = 3</c>): the topic, the <c>msgId</c> entry of the metadata, and where the payload lies in the bytes,
/// read without copying the payload. A gateway that relays a push forwards the bytes it received, and the one that
/// stores it stores the payload from them, where parsing a <c>PushInbound</c> would copy a large payload each time.
/// </summary>
/// <remarks>
/// Only the plain encoding is read here (<see cref="ProtoFieldReader"/>): the known fields with their declared wire
/// types, strings in valid UTF-8, repeated fields last-wins as protobuf merges them, unknown fields skipped. Anything
/// else makes <see cref="TryRead"/> return false, and the caller parses the message with the generated parser.
/// </remarks>
internal readonly record struct PushView(string Topic, string? MetadataMessageId, int PayloadOffset, int PayloadLength)
{
    /// <summary>The message id of the push in <paramref name="message"/> (the bytes this view was read from):
    /// <c>metadata["msgId"]</c>, else the one in its <c>osx.Message</c> payload, as for a parsed push.</summary>
    public string? MessageId(ReadOnlySpan<byte> message) =>
        MessageIds.Of(MetadataMessageId, message.Slice(PayloadOffset, PayloadLength));

    public static bool TryRead(ReadOnlySpan<byte> message, out PushView view)
    {
        view = default;
        string topic = "", messageId = "";
        int payloadOffset = 0, payloadLength = 0;
        var reader = new ProtoFieldReader(message);
        while (reader.TryNext(out var field, out var wireType, out var value, out var offset))
        {
            switch (field)
            {
                case 1 or 2 or 3 when wireType != 2:
                    return false; // the parser keeps such a field as an unknown one
                case 1:
                    if (!ProtoFieldReader.TryReadString(value, out topic))
                    {
                        return false;
                    }

                    break;
                case 2:
                    (payloadOffset, payloadLength) = (offset, value.Length);
                    break;
                case 3:
                    if (!ProtoFieldReader.TryReadStringEntry(value, out var key, out var entryValue))
                    {
                        return false;
                    }

                    if (key.SequenceEqual("msgId"u8))
                    {
                        messageId = Encoding.UTF8.GetString(entryValue);
                    }

                    break;
            }
        }

        if (reader.Unreadable)
        {
            return false;
        }

        view = new PushView(topic, messageId.Length > 0 ? messageId : null, payloadOffset, payloadLength);
        return true;
    }
}
