using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Tests.Forwarding.H2;

public sealed class GrpcFrameTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_383)]
    [InlineData(16_384)]
    [InlineData(2_097_152)]
    public void OfBytesField_IsTheLengthPrefixedMessageProtobufWrites_WithoutCopyingTheValue(int length)
    {
        var payload = new byte[length];
        Random.Shared.NextBytes(payload);

        var frame = GrpcFrame.OfBytesField(Inbound.PayloadFieldNumber, payload);

        var message = new Inbound { Payload = ByteString.CopyFrom(payload) }.ToByteArray();
        var expected = new byte[GrpcFrame.PrefixLength + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(1), (uint)message.Length);
        message.CopyTo(expected, GrpcFrame.PrefixLength);
        Assert.Equal(expected, frame.ToArray());
        if (length > 0)
        {
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(GetLastSegment(frame), out var last));
            Assert.Same(payload, last.Array); // the value itself, not a copy
        }
    }

    private static ReadOnlyMemory<byte> GetLastSegment(ReadOnlySequence<byte> sequence)
    {
        var last = ReadOnlyMemory<byte>.Empty;
        foreach (var segment in sequence)
        {
            last = segment;
        }

        return last;
    }
}
