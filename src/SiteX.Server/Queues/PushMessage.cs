using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Internal;

namespace SiteX.Server.Queues;

/// <summary>
/// A push to store or relay: either a parsed <see cref="PushInbound"/> (from JSON, or a message only the generated
/// parser reads), or the serialized bytes as they arrived with their <see cref="PushView"/>, so a large payload is
/// neither copied out of them nor serialized again.
/// </summary>
/// <remarks>The serialized bytes belong to the caller and must stay valid until the store or relay call returns.</remarks>
internal readonly struct PushMessage
{
    private readonly PushInbound? _parsed;
    private readonly ReadOnlyMemory<byte> _serialized;
    private readonly PushView _view;
    private readonly MessageBytes? _owner;

    private PushMessage(PushInbound? parsed, ReadOnlyMemory<byte> serialized, PushView view, MessageBytes? owner) =>
        (_parsed, _serialized, _view, _owner) = (parsed, serialized, view, owner);

    public static implicit operator PushMessage(PushInbound push) => new(push, default, default, null);

    /// <summary>A push in <paramref name="serialized"/>, which <paramref name="owner"/> (when given) holds.</summary>
    public static PushMessage FromSerialized(ReadOnlyMemory<byte> serialized, PushView view, MessageBytes? owner = null) => new(null, serialized, view, owner);

    public string Topic => _parsed?.Topic ?? _view.Topic;

    public ReadOnlyMemory<byte> Payload => _parsed is { } push ? push.Payload.Memory : _serialized.Slice(_view.PayloadOffset, _view.PayloadLength);

    public string? MessageId => _parsed is { } push ? MessageIds.Of(push) : _view.MessageId(_serialized.Span);

    /// <summary>The serialized <c>PushInbound</c> for a relayed call: the bytes as they arrived (not copied, and kept
    /// out of the pool when <paramref name="readAfterReturn"/>: the call's client may read them after the call has
    /// ended), or the parsed one serialized.</summary>
    public ByteString ToRelayedByteString(bool readAfterReturn)
    {
        if (_parsed is { } push)
        {
            return push.ToByteString();
        }

        if (readAfterReturn)
        {
            _owner?.Keep();
        }

        return UnsafeByteOperations.UnsafeWrap(_serialized);
    }
}
