using System.Buffers.Binary;
using System.Text;

namespace SiteX.Server.Queues.Storage;

/// <summary>
/// The record framing of queue segments. Persisted: frozen by golden tests.
/// </summary>
/// <remarks>
/// A record is a 13-byte little-endian header <c>[u32 magic][u32 bodyLength][u32 crc][u8 type]</c> and a body.
/// <c>crc</c> is CRC-32C over the type byte followed by the body, so a flipped type is caught too. Strings are a
/// u32 byte count and UTF-8; an absent string has the count 0xFFFFFFFF. Bodies by type:
/// <list type="bullet">
/// <item>Append: u64 sequence, i64 unix ms, session, topic, message id (optional), payload (the rest of the body).</item>
/// <item>Consume: u64 sequence.</item>
/// <item>Release: session, topic (optional).</item>
/// <item>Checkpoint: u64 next sequence.</item>
/// </list>
/// </remarks>
internal static class QueueRecordFormat
{
    /// <summary>"SXQ1" in file order; the digit is the format version.</summary>
    public const uint Magic = 0x3151_5853;
    public const int HeaderSize = 13;
    /// <summary>The largest UTF-8 byte count of a session, topic or message id the store accepts.</summary>
    public const int MaxNameBytes = 1 << 20;
    /// <summary>The largest payload the format allows, so that a whole body always fits an int.</summary>
    public const int MaxPayloadBytes = int.MaxValue - (4 << 20);
    /// <summary>The most bytes of an Append body before its payload (fixed fields and three names).</summary>
    public const int MaxAppendPrefixBytes = 16 + (3 * (4 + MaxNameBytes));

    private const uint AbsentString = 0xFFFF_FFFF;
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static int StringSize(string? value) => 4 + (value is null ? 0 : s_utf8.GetByteCount(value));

    public static int NameBytes(string? value) => value is null ? 0 : s_utf8.GetByteCount(value);

    public static int AppendPrefixSize(string session, string topic, string? messageId) =>
        16 + StringSize(session) + StringSize(topic) + StringSize(messageId);

    /// <summary>
    /// Builds an Append record. With <paramref name="inline"/> the returned array holds the whole record; otherwise it
    /// holds the header and the fields before the payload, and the payload is written from the caller's memory right
    /// after it (the CRC covers it either way). <paramref name="prefixSize"/> is the size of those fields, so the
    /// payload starts at <see cref="HeaderSize"/> + prefixSize.
    /// </summary>
    public static byte[] BuildAppend(long sequence, long unixMs, string session, string topic, string? messageId, ReadOnlySpan<byte> payload, bool inline, out int prefixSize)
    {
        prefixSize = AppendPrefixSize(session, topic, messageId);
        var record = new byte[HeaderSize + prefixSize + (inline ? payload.Length : 0)];
        var body = record.AsSpan(HeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(body, (ulong)sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], unixMs);
        var at = 16;
        at += WriteString(body[at..], session);
        at += WriteString(body[at..], topic);
        WriteString(body[at..], messageId);
        if (inline)
        {
            payload.CopyTo(body[prefixSize..]);
        }

        var crc = Crc32C.Update(Crc32C.Initial, (byte)QueueRecordType.Append);
        crc = Crc32C.Update(crc, body[..prefixSize]);
        crc = Crc32C.Finish(Crc32C.Update(crc, payload));
        WriteHeader(record, (uint)(prefixSize + payload.Length), crc, QueueRecordType.Append);
        return record;
    }

    public static byte[] BuildConsume(long sequence) => BuildSequenceRecord(QueueRecordType.Consume, sequence);

    public static byte[] BuildCheckpoint(long nextSequence) => BuildSequenceRecord(QueueRecordType.Checkpoint, nextSequence);

    public static byte[] BuildRelease(string session, string? topic)
    {
        var record = new byte[HeaderSize + StringSize(session) + StringSize(topic)];
        var body = record.AsSpan(HeaderSize);
        var at = WriteString(body, session);
        WriteString(body[at..], topic);
        Seal(record, QueueRecordType.Release);
        return record;
    }

    /// <summary>Reads a header; false when the magic is wrong or the type unknown.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> header, out uint bodyLength, out uint crc, out QueueRecordType type)
    {
        bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        crc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        type = (QueueRecordType)header[12];
        return BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic
            && type is QueueRecordType.Append or QueueRecordType.Consume or QueueRecordType.Release or QueueRecordType.Checkpoint;
    }

    /// <summary>Parses the fields of an Append body before its payload; <paramref name="body"/> may end anywhere after
    /// them. False when they are malformed or cut off.</summary>
    public static bool TryParseAppendPrefix(ReadOnlySpan<byte> body, long bodyLength, out long sequence, out long unixMs, out string session, out string topic, out string? messageId, out int prefixSize)
    {
        sequence = unixMs = 0;
        session = topic = "";
        messageId = null;
        prefixSize = 0;
        if (body.Length < 16)
        {
            return false;
        }

        sequence = (long)BinaryPrimitives.ReadUInt64LittleEndian(body);
        unixMs = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        var at = 16;
        if (!TryReadString(body, ref at, out var s) || s is null || !TryReadString(body, ref at, out var t) || t is null || !TryReadString(body, ref at, out messageId) || at > bodyLength)
        {
            return false;
        }

        (session, topic, prefixSize) = (s, t, at);
        return sequence > 0;
    }

    public static bool TryParseSequence(ReadOnlySpan<byte> body, out long sequence)
    {
        sequence = body.Length == 8 ? (long)BinaryPrimitives.ReadUInt64LittleEndian(body) : 0;
        return sequence > 0;
    }

    public static bool TryParseRelease(ReadOnlySpan<byte> body, out string session, out string? topic)
    {
        var at = 0;
        session = "";
        topic = null;
        if (!TryReadString(body, ref at, out var s) || s is null || !TryReadString(body, ref at, out topic) || at != body.Length)
        {
            return false;
        }

        session = s;
        return true;
    }

    private static byte[] BuildSequenceRecord(QueueRecordType type, long sequence)
    {
        var record = new byte[HeaderSize + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(HeaderSize), (ulong)sequence);
        Seal(record, type);
        return record;
    }

    private static void Seal(byte[] record, QueueRecordType type)
    {
        var body = record.AsSpan(HeaderSize);
        var crc = Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.Initial, (byte)type), body));
        WriteHeader(record, (uint)body.Length, crc, type);
    }

    private static void WriteHeader(Span<byte> record, uint bodyLength, uint crc, QueueRecordType type)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], crc);
        record[12] = (byte)type;
    }

    private static int WriteString(Span<byte> destination, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination, AbsentString);
            return 4;
        }

        var written = s_utf8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)written);
        return 4 + written;
    }

    private static bool TryReadString(ReadOnlySpan<byte> body, ref int at, out string? value)
    {
        value = null;
        if (body.Length - at < 4)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        if (length == AbsentString)
        {
            return true;
        }

        if (length > MaxNameBytes || length > (uint)(body.Length - at))
        {
            return false;
        }

        try
        {
            value = s_utf8.GetString(body.Slice(at, (int)length));
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        at += (int)length;
        return true;
    }
}
