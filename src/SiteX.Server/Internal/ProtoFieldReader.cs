using System.Text;
using System.Text.Unicode;

namespace SiteX.Server.Internal;

/// <summary>
/// Walks the fields of a serialized protobuf message in its plain encoding, without copying anything: varint (0),
/// fixed64 (1), length-delimited (2) and fixed32 (5) fields. It stops at the end of the message or at anything else
/// (a group, wire types 6 and 7, field number 0, a truncated or malformed field), and then says so with
/// <see cref="Unreadable"/>: the caller leaves such a message to the generated parser, which accepts or rejects it
/// as it always does.
/// </summary>
internal ref struct ProtoFieldReader(ReadOnlySpan<byte> message)
{
    private readonly ReadOnlySpan<byte> _message = message;
    private int _position;

    /// <summary>Whether the walk stopped before the end of the message.</summary>
    public bool Unreadable { get; private set; }

    /// <summary>The next field: its number and wire type, and for a length-delimited field its bytes and their
    /// offset in the message. False at the end, or when the rest is <see cref="Unreadable"/>.</summary>
    public bool TryNext(out int field, out int wireType, out ReadOnlySpan<byte> value, out int offset)
    {
        (field, wireType, offset) = (0, 0, 0);
        value = default;
        if (_position >= _message.Length)
        {
            return false;
        }

        if (!TryReadVarint(out var tag) || tag > uint.MaxValue || (tag >> 3) == 0)
        {
            return Stop();
        }

        (field, wireType) = ((int)(tag >> 3), (int)(tag & 7));
        var length = 0;
        switch (wireType)
        {
            case 0:
                return TryReadVarint(out _) || Stop();
            case 1:
                length = 8;
                break;
            case 5:
                length = 4;
                break;
            case 2 when TryReadVarint(out var declared) && declared <= (ulong)(_message.Length - _position):
                length = (int)declared;
                break;
            default:
                return Stop();
        }

        if (length > _message.Length - _position)
        {
            return Stop();
        }

        offset = _position;
        value = _message.Slice(_position, length);
        _position += length;
        return true;
    }

    /// <summary>A <c>map&lt;string, string&gt;</c> entry (<c>key = 1</c>, <c>value = 2</c>, both valid UTF-8), as
    /// the bytes of its key and value (not decoded: most entries are only compared or skipped); false for anything
    /// else in it.</summary>
    public static bool TryReadStringEntry(ReadOnlySpan<byte> entry, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = default;
        value = default;
        var reader = new ProtoFieldReader(entry);
        while (reader.TryNext(out var field, out var wireType, out var bytes, out _))
        {
            if (wireType != 2 || field is not (1 or 2) || !Utf8.IsValid(bytes))
            {
                return false;
            }

            if (field == 1)
            {
                key = bytes;
            }
            else
            {
                value = bytes;
            }
        }

        return !reader.Unreadable;
    }

    /// <summary>A string field's bytes, when they are valid UTF-8 (the generated parser rejects the others).</summary>
    public static bool TryReadString(ReadOnlySpan<byte> bytes, out string text)
    {
        if (!Utf8.IsValid(bytes))
        {
            text = "";
            return false;
        }

        text = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private bool Stop()
    {
        Unreadable = true;
        return false;
    }

    private bool TryReadVarint(out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && _position < _message.Length; shift += 7)
        {
            var b = _message[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
