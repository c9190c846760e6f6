using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Internal;
using SiteX.Server.Queues;

namespace SiteX.Server.Tests.Queues;

/// <summary><see cref="PushView"/> and <see cref="InboundView"/> against the generated parsers: whenever a view reads a
/// message it must read what the parser reads, and what it does not read is left to the parser.</summary>
public sealed class PushViewTests
{
    [Fact]
    public void SerializedPush_ReadsTopicMessageIdAndWhereThePayloadLies()
    {
        // Arrange
        var push = new PushInbound { Topic = "t-1", Payload = ByteString.CopyFrom(Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray()) };
        push.Metadata["msgFlag"] = "x";
        push.Metadata["msgId"] = "id-7";
        var bytes = push.ToByteArray();

        // Act
        var read = PushView.TryRead(bytes, out var view);

        // Assert
        Assert.True(read);
        Assert.Equal("t-1", view.Topic);
        Assert.Equal("id-7", view.MessageId(bytes));
        Assert.Equal(push.Payload.ToByteArray(), bytes.AsSpan(view.PayloadOffset, view.PayloadLength).ToArray());
    }

    [Fact]
    public void PushMessage_FromSerializedBytes_StoresAndRelaysTheSameAsTheParsedPush()
    {
        // Arrange: a payload that is an osx.Message with msgId "m-1" (field 1), no msgId in the metadata.
        var payload = new byte[] { 0x0A, 3, (byte)'m', (byte)'-', (byte)'1', 0x12, 2, 1, 2 };
        var push = new PushInbound { Topic = "t", Payload = ByteString.CopyFrom(payload) };
        var bytes = push.ToByteArray();
        Assert.True(PushView.TryRead(bytes, out var view));

        // Act
        var serialized = PushMessage.FromSerialized(bytes, view);
        PushMessage parsed = push;

        // Assert
        Assert.Equal(parsed.Topic, serialized.Topic);
        Assert.Equal("m-1", serialized.MessageId);
        Assert.Equal(parsed.MessageId, serialized.MessageId);
        Assert.Equal(parsed.Payload.ToArray(), serialized.Payload.ToArray());
        Assert.Equal(parsed.ToRelayedByteString(readAfterReturn: true), serialized.ToRelayedByteString(readAfterReturn: true));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RelayedPush_InPooledBytes_KeepsThemOutOfThePool_WhenTheRelayReadsThemAfterItReturns(bool readAfterReturn)
    {
        // Arrange: a push read into a pooled buffer, as a gateway reads one it expects to store.
        var bytes = new PushInbound { Topic = "t", Payload = ByteString.CopyFrom([1, 2, 3]) }.ToByteArray();
        using var owner = MessageBytes.CopyOf(new System.Buffers.ReadOnlySequence<byte>(bytes), pooled: true);
        Assert.True(PushView.TryRead(owner.Memory.Span, out var view));
        var push = PushMessage.FromSerialized(owner.Memory, view, owner);
        Assert.True(owner.Pooled);

        // Act: a route change makes it a relay.
        var relayed = push.ToRelayedByteString(readAfterReturn);

        // Assert: the relayed call reads the bytes as they arrived; they go back to the pool only when the relay is
        // done with them once it returns (the HTTP/2 relay), not when its client may still send them (Grpc.Net.Client).
        Assert.Equal(bytes, relayed.ToByteArray());
        Assert.Equal(!readAfterReturn, owner.Pooled);
    }

    [Fact]
    public void RepeatedFields_LastOneWins_AsTheParserMerges()
    {
        // topic "a", payload [1], topic "b", payload [2, 3], metadata msgId "x", metadata msgId "y"
        byte[] bytes = [0x0A, 1, (byte)'a', 0x12, 1, 1, 0x0A, 1, (byte)'b', 0x12, 2, 2, 3,
            0x1A, 10, 0x0A, 5, (byte)'m', (byte)'s', (byte)'g', (byte)'I', (byte)'d', 0x12, 1, (byte)'x',
            0x1A, 10, 0x0A, 5, (byte)'m', (byte)'s', (byte)'g', (byte)'I', (byte)'d', 0x12, 1, (byte)'y'];
        var parsed = PushInbound.Parser.ParseFrom(bytes);

        Assert.True(PushView.TryRead(bytes, out var view));
        Assert.Equal(parsed.Topic, view.Topic);
        Assert.Equal(parsed.Metadata["msgId"], view.MessageId(bytes));
        Assert.Equal(parsed.Payload.ToByteArray(), bytes.AsSpan(view.PayloadOffset, view.PayloadLength).ToArray());
    }

    [Fact]
    public void UnknownFields_OfEveryPlainWireType_AreSkipped()
    {
        // field 9 varint 300, field 10 fixed64, field 11 fixed32, field 12 bytes "zz", then topic "t"
        byte[] bytes = [0x48, 0xAC, 0x02, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5D, 1, 2, 3, 4, 0x62, 2, (byte)'z', (byte)'z', 0x0A, 1, (byte)'t'];
        var parsed = PushInbound.Parser.ParseFrom(bytes);

        Assert.True(PushView.TryRead(bytes, out var view));
        Assert.Equal(parsed.Topic, view.Topic);
        Assert.Equal(0, view.PayloadLength);
    }

    [Theory]
    [InlineData(new byte[] { 0x0B, 0x0C })] // a group (field 1, start and end): left to the parser
    [InlineData(new byte[] { 0x08, 5 })] // topic with the varint wire type: the parser keeps it as an unknown field
    [InlineData(new byte[] { 0x0A, 5, (byte)'a' })] // truncated topic
    [InlineData(new byte[] { 0x02, 0 })] // field number 0
    [InlineData(new byte[] { 0x51, 1, 2 })] // truncated fixed64
    [InlineData(new byte[] { 0x1A, 2, 0x08, 1 })] // a map entry whose key has the varint wire type
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'"', (byte)'}' })] // JSON
    [InlineData(new byte[] { 0x0A, 2, 0xC3, 0x28 })] // a topic that is not UTF-8: the parser rejects it
    public void MessagesBeyondThePlainEncoding_AreLeftToTheParser(byte[] bytes) =>
        Assert.False(PushView.TryRead(bytes, out _));

    [Fact]
    public void MutatedPushes_WheneverTheViewReadsThem_TheParserReadsTheSame()
    {
        var agreed = 0;
        foreach (var bytes in Mutations(seed: 1234, count: 20_000, random =>
        {
            var push = new PushInbound { Topic = $"topic-{random.Next(1000)}", Payload = ByteString.CopyFrom(RandomBytes(random, random.Next(0, 300))) };
            if (random.Next(2) == 0)
            {
                push.Metadata["msgId"] = $"id-{random.Next(1000)}";
            }

            return push.ToByteArray();
        }))
        {
            if (!PushView.TryRead(bytes, out var view))
            {
                continue;
            }

            // The parser accepts it and reads the same topic, message id and payload.
            var parsed = PushInbound.Parser.ParseFrom(bytes);
            Assert.Equal(parsed.Topic, view.Topic);
            Assert.Equal(MessageIds.Of(parsed), view.MessageId(bytes));
            Assert.Equal(parsed.Payload.ToByteArray(), bytes.AsSpan(view.PayloadOffset, view.PayloadLength).ToArray());
            agreed++;
        }

        Assert.InRange(agreed, 1_000, 20_000); // the comparison ran for many messages, not only for none
    }

    [Fact]
    public void Inbound_ThePayloadIsFoundWhereTheParserReadsIt()
    {
        var inbound = new Inbound { Payload = ByteString.CopyFrom(new byte[] { 5, 6, 7 }) };
        inbound.Metadata["k"] = "v";
        var bytes = inbound.ToByteArray();

        Assert.True(InboundView.TryReadPayload(bytes, out var offset, out var length));
        Assert.Equal(new byte[] { 5, 6, 7 }, bytes.AsSpan(offset, length).ToArray());
        Assert.False(InboundView.TryReadPayload([0x0A, 2, 0x08, 1], out _, out _)); // a metadata entry with a varint key
        Assert.False(InboundView.TryReadPayload([0x10, 1], out _, out _)); // payload with the varint wire type
    }

    [Fact]
    public void MutatedInbounds_WheneverTheViewReadsThem_TheParserReadsTheSamePayload()
    {
        var agreed = 0;
        foreach (var bytes in Mutations(seed: 4321, count: 20_000, random =>
        {
            var inbound = new Inbound { Payload = ByteString.CopyFrom(RandomBytes(random, random.Next(0, 300))) };
            for (var entries = random.Next(3); entries > 0; entries--)
            {
                inbound.Metadata[$"k{random.Next(100)}"] = $"v{random.Next(100)}";
            }

            return inbound.ToByteArray();
        }))
        {
            if (!InboundView.TryReadPayload(bytes, out var offset, out var length))
            {
                continue;
            }

            Assert.Equal(Inbound.Parser.ParseFrom(bytes).Payload.ToByteArray(), bytes.AsSpan(offset, length).ToArray());
            agreed++;
        }

        Assert.InRange(agreed, 1_000, 20_000);
    }

    /// <summary>Messages from <paramref name="make"/>, each with a few bytes flipped, cut short, or extended.</summary>
    private static IEnumerable<byte[]> Mutations(int seed, int count, Func<Random, byte[]> make)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var bytes = make(random);
            switch (random.Next(3))
            {
                case 0:
                    for (var flips = random.Next(1, 4); flips > 0 && bytes.Length > 0; flips--)
                    {
                        bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    }

                    break;
                case 1:
                    bytes = bytes[..random.Next(bytes.Length + 1)];
                    break;
                default:
                    bytes = [.. bytes, .. RandomBytes(random, random.Next(1, 8))];
                    break;
            }

            yield return bytes;
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
