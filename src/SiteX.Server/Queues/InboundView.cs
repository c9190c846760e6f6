using SiteX.Server.Internal;

namespace SiteX.Server.Queues;

/// <summary>
/// Where the payload of a serialized PTP <c>Inbound</c> (<c>metadata = 1</c>, <c>payload = 2</c>) lies, read without
/// copying it, so a gateway serving a relayed <c>invoke</c> (a push for one of its parties, most of all) takes the
/// payload from the bytes as they arrived. Like <see cref="PushView"/>, it reads the plain encoding only and leaves
/// anything else to the generated parser.
/// </summary>
internal static class InboundView
{
    public static bool TryReadPayload(ReadOnlySpan<byte> message, out int offset, out int length)
    {
        (offset, length) = (0, 0);
        var reader = new ProtoFieldReader(message);
        while (reader.TryNext(out var field, out var wireType, out var value, out var at))
        {
            switch (field)
            {
                case 1 or 2 when wireType != 2:
                    return false;
                case 1 when !ProtoFieldReader.TryReadStringEntry(value, out _, out _):
                    return false;
                case 2:
                    (offset, length) = (at, value.Length);
                    break;
            }
        }

        return !reader.Unreadable;
    }
}
