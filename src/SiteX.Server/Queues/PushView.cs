using System.Text;
using System.Text.Unicode;

namespace SiteX.Server.Queues;

/// <summary>
/// What routing and storing need from a serialized <c>PushInbound</c> (<c>topic = 1</c>, <c>payload = 2</c>,
/// <c>metadata = 3</c>): the topic, the <c>msgId</c> entry of the metadata, and where the payload lies in the bytes,
/// read without copying the payload. A gateway that relays a push forwards the bytes it received, and the one that
/// stores it stores the payload from them, where parsing a <c>PushInbound</c> would copy a large payload each time.
/// </summary>
/// <remarks>
/// Only the plain encoding is read here: fields with their declared wire types, unknown fields of wire types 0, 1, 2
/// and 5, strings in valid UTF-8, repeated fields last-wins as protobuf merges them. Anything else (a group, a field with another wire type, a
/// truncated or malformed message) makes <see cref="TryRead"/> return false, and the caller parses the message with
/// the generated parser, which accepts or rejects it as it always did.
/// </remarks>
internal readonly record struct PushView(string Topic, string? MetadataMessageId, int PayloadOffset, int PayloadLength)
{
    private const int TopicTag = (1 << 3) | 2;
    private const int PayloadTag = (2 << 3) | 2;
    private const int MetadataTag = (3 << 3) | 2;

    /// <summary>The message id of the push in <paramref name="message"/> (the bytes this view was read from):
    /// <c>metadata["msgId"]</c>, else the one in its <c>osx.Message</c> payload, as for a parsed push.</summary>
    public string? MessageId(ReadOnlySpan<byte> message) =>
        MessageIds.Of(MetadataMessageId, message.Slice(PayloadOffset, PayloadLength));

    public static bool TryRead(ReadOnlySpan<byte> message, out PushView view)
    {
        view = default;
        string topic = "", messageId = "";
        int payloadOffset = 0, payloadLength = 0;
        var position = 0;
        while (position < message.Length)
        {
            if (!TryReadVarint(message, ref position, out var tag) || (tag >> 3) == 0 || tag > uint.MaxValue)
            {
                return false;
            }

            switch ((int)(tag & 7))
            {
                case 0 when (tag >> 3) is not (1 or 2 or 3):
                    if (!TryReadVarint(message, ref position, out _))
                    {
                        return false;
                    }

                    break;
                case 1 when (tag >> 3) is not (1 or 2 or 3):
                    position += 8;
                    break;
                case 5 when (tag >> 3) is not (1 or 2 or 3):
                    position += 4;
                    break;
                case 2:
                    if (!TryReadLength(message, ref position, out var length))
                    {
                        return false;
                    }

                    var value = message.Slice(position, length);
                    if (tag == TopicTag)
                    {
                        if (!Utf8.IsValid(value))
                        {
                            return false; // the parser rejects it
                        }

                        topic = Encoding.UTF8.GetString(value);
                    }
                    else if (tag == PayloadTag)
                    {
                        (payloadOffset, payloadLength) = (position, length);
                    }
                    else if (tag == MetadataTag)
                    {
                        if (!TryReadEntry(value, out var key, out var entryValue))
                        {
                            return false;
                        }

                        if (key == "msgId")
                        {
                            messageId = entryValue;
                        }
                    }

                    position += length;
                    break;
                default:
                    return false; // a group, or a known field with another wire type: the generated parser decides
            }

            if (position > message.Length)
            {
                return false;
            }
        }

        view = new PushView(topic, messageId.Length > 0 ? messageId : null, payloadOffset, payloadLength);
        return true;
    }

    /// <summary>A map entry: <c>key = 1</c>, <c>value = 2</c>, both strings.</summary>
    private static bool TryReadEntry(ReadOnlySpan<byte> entry, out string key, out string value)
    {
        (key, value) = ("", "");
        var position = 0;
        while (position < entry.Length)
        {
            if (!TryReadVarint(entry, ref position, out var tag) || tag is not ((1 << 3) | 2 or (2 << 3) | 2)
                || !TryReadLength(entry, ref position, out var length))
            {
                return false;
            }

            var bytes = entry.Slice(position, length);
            if (!Utf8.IsValid(bytes))
            {
                return false;
            }

            var text = Encoding.UTF8.GetString(bytes);
            if (tag == ((1 << 3) | 2))
            {
                key = text;
            }
            else
            {
                value = text;
            }

            position += length;
        }

        return true;
    }

    private static bool TryReadLength(ReadOnlySpan<byte> bytes, ref int position, out int length)
    {
        length = 0;
        if (!TryReadVarint(bytes, ref position, out var value) || value > (ulong)(bytes.Length - position))
        {
            return false;
        }

        length = (int)value;
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> bytes, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < bytes.Length; shift += 7)
        {
            var b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
