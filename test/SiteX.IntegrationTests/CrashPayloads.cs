using System.Globalization;
using Google.Protobuf;
using SiteX.Protocol.Ptp;

namespace SiteX.IntegrationTests;

/// <summary>
/// Deterministic queue messages: message <c>i</c> of a run is an <c>osx.Message{msgId = prefix + i, body}</c> whose
/// body size and bytes follow from (seed, i), so the consumer checks every byte it receives without the producer's
/// copy, and a 0-byte body still names its message.
/// </summary>
internal sealed class CrashPayloads(int seed, string prefix, int minBytes, int maxBytes)
{
    public string Id(int index) => prefix + index.ToString(CultureInfo.InvariantCulture);

    public ByteString Payload(int index)
    {
        var random = new Random(unchecked((seed * 1_000_003) + index));
        var body = new byte[random.Next(minBytes, maxBytes + 1)];
        random.NextBytes(body);
        return new Message { MsgId = Id(index), Body = UnsafeByteOperations.UnsafeWrap(body) }.ToByteString();
    }

    /// <summary>The index of a received payload, after checking it is byte for byte the one that was pushed.</summary>
    public int Verify(ByteString payload)
    {
        var message = Message.Parser.ParseFrom(payload);
        if (!message.MsgId.StartsWith(prefix, StringComparison.Ordinal) || !int.TryParse(message.MsgId.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            throw new InvalidDataException($"received a message with id \"{message.MsgId}\", not one of this run's ({prefix}N)");
        }

        if (!payload.Span.SequenceEqual(Payload(index).Span))
        {
            throw new InvalidDataException($"message {message.MsgId}: the {payload.Length} bytes received differ from the {Payload(index).Length} bytes pushed");
        }

        return index;
    }
}
