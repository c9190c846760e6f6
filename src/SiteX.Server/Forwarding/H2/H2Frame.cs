using System.Buffers.Binary;

namespace SiteX.Server.Forwarding.H2;

/// <summary>HTTP/2 frame types (RFC 9113 6).</summary>
internal enum H2FrameType : byte
{
    Data = 0,
    Headers = 1,
    Priority = 2,
    RstStream = 3,
    Settings = 4,
    PushPromise = 5,
    Ping = 6,
    GoAway = 7,
    WindowUpdate = 8,
    Continuation = 9,
}

/// <summary>HTTP/2 error codes (RFC 9113 7).</summary>
internal enum H2ErrorCode : uint
{
    NoError = 0,
    ProtocolError = 1,
    InternalError = 2,
    FlowControlError = 3,
    SettingsTimeout = 4,
    StreamClosed = 5,
    FrameSizeError = 6,
    RefusedStream = 7,
    Cancel = 8,
    CompressionError = 9,
    ConnectError = 10,
    EnhanceYourCalm = 11,
    InadequateSecurity = 12,
    Http11Required = 13,
}

/// <summary>Frame header layout, flags and settings of HTTP/2, and writers of the frames the relay sends.</summary>
internal static class H2Frame
{
    public const int HeaderLength = 9;
    public const int DefaultMaxFrameSize = 16 * 1024;
    public const int DefaultWindowSize = 65_535;
    public const int MaxWindowSize = int.MaxValue;

    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte PriorityFlag = 0x20;

    public const ushort SettingsHeaderTableSize = 1;
    public const ushort SettingsEnablePush = 2;
    public const ushort SettingsMaxConcurrentStreams = 3;
    public const ushort SettingsInitialWindowSize = 4;
    public const ushort SettingsMaxFrameSize = 5;
    public const ushort SettingsMaxHeaderListSize = 6;

    /// <summary>The client connection preface (RFC 9113 3.4).</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void WriteHeader(Span<byte> destination, int length, H2FrameType type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = (byte)type;
        destination[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)streamId & 0x7FFF_FFFF);
    }

    /// <summary>Reads a frame header: payload length, type, flags, stream id.</summary>
    public static (int Length, H2FrameType Type, byte Flags, int StreamId) ReadHeader(ReadOnlySpan<byte> source) =>
        ((source[0] << 16) | (source[1] << 8) | source[2], (H2FrameType)source[3], source[4],
            (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7FFF_FFFF));

    /// <summary>The payload of a DATA or HEADERS frame without its padding (RFC 9113 sections 6.1 and 6.2).
    /// <paramref name="sender"/> starts the error message ("the next hop sent", "the caller sent").</summary>
    public static ReadOnlySpan<byte> RemovePadding(byte flags, ReadOnlySpan<byte> payload, H2FrameType type, string sender)
    {
        if ((flags & Padded) == 0)
        {
            return payload;
        }

        if (payload.Length == 0 || payload[0] >= payload.Length)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"{sender} a {type} frame with invalid padding");
        }

        return payload[1..(payload.Length - payload[0])];
    }

    /// <summary>The header block fragment of a HEADERS frame: without padding and priority fields.</summary>
    public static ReadOnlySpan<byte> HeaderBlockFragment(byte flags, ReadOnlySpan<byte> payload, string sender)
    {
        var block = RemovePadding(flags, payload, H2FrameType.Headers, sender);
        if ((flags & PriorityFlag) == 0)
        {
            return block;
        }

        if (block.Length < 5)
        {
            throw new H2ProtocolException(H2ErrorCode.FrameSizeError, $"{sender} a HEADERS frame too short for its priority fields");
        }

        return block[5..];
    }

    /// <summary>Writes one setting (identifier and value, 6 bytes) of a SETTINGS payload.</summary>
    public static void WriteSetting(Span<byte> destination, ushort id, int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)value);
    }

    /// <summary>Rejects a frame whose payload is not <paramref name="length"/> bytes (FRAME_SIZE_ERROR).</summary>
    public static void RequireLength(H2FrameType type, ReadOnlySpan<byte> payload, int length, string sender)
    {
        if (payload.Length != length)
        {
            throw new H2ProtocolException(H2ErrorCode.FrameSizeError, $"{sender} a {type} frame of {payload.Length} bytes");
        }
    }
}
