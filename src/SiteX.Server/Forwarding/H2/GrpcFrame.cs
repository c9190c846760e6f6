using System.Buffers;
using System.Buffers.Binary;
using SiteX.Server.Internal;

namespace SiteX.Server.Forwarding.H2;

/// <summary>Length-prefixed gRPC messages (the 5-byte prefix of gRPC over HTTP/2) built around bytes already in
/// memory, without copying them.</summary>
internal static class GrpcFrame
{
    /// <summary>Bytes of the gRPC prefix: the compressed flag and the message length (big-endian).</summary>
    public const int PrefixLength = 5;

    /// <summary>
    /// The uncompressed gRPC message whose only field is bytes field <paramref name="field"/> holding
    /// <paramref name="value"/> (e.g. an <c>Inbound</c> with just its payload), as protobuf serializes it: nothing for
    /// an empty value. The prefix, tag and length are one small array; <paramref name="value"/> follows as it is.
    /// </summary>
    public static ReadOnlySequence<byte> OfBytesField(int field, ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty)
        {
            return new ReadOnlySequence<byte>(new byte[PrefixLength]); // proto3 leaves a default field out
        }

        var tag = (uint)(field << 3) | 2; // wire type 2: length-delimited
        var head = new byte[PrefixLength + VarintLength(tag) + VarintLength((uint)value.Length)];
        var at = PrefixLength + WriteVarint(head.AsSpan(PrefixLength), tag);
        at += WriteVarint(head.AsSpan(at), (uint)value.Length);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(1), checked((uint)(at - PrefixLength + value.Length)));

        var first = new SequenceSegment(head);
        return SequenceSegment.Sequence(first, first.Append(value));
    }

    private static int VarintLength(uint value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at;
    }
}
