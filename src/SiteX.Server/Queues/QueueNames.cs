using Google.Protobuf;
using SiteX.Protocol.Ptp;

namespace SiteX.Server.Queues;

/// <summary>
/// Session ids and topic names. They are data, never file names, but they also appear in logs, metrics and the
/// admin API, so they are held to printable text: no control characters (NUL included), no '/' or '\', and a length
/// limit. FATE's topics (<c>{session}-{role}-{party}-{peer_role}-{peer_party}-{name}-{partition}</c>) pass.
/// </summary>
internal static class QueueNames
{
    public static bool IsValid(string name, int maxLength, out string why)
    {
        if (name.Length == 0)
        {
            why = "is empty";
            return false;
        }

        if (name.Length > maxLength)
        {
            why = $"is {name.Length} characters long, the limit is {maxLength}";
            return false;
        }

        foreach (var c in name)
        {
            if (char.IsControl(c) || c is '/' or '\\' || char.IsSurrogate(c))
            {
                why = $"\"{QueueManager.Shown(name)}\" contains a character that is not allowed (control characters, '/', '\\')";
                return false;
            }
        }

        why = "";
        return true;
    }
}

/// <summary>Where a push's message id comes from (for storing a retried push once).</summary>
internal static class MessageIds
{
    /// <summary>The id in <c>PushInbound.metadata["msgId"]</c>, else the <c>msgId</c> of the <c>osx.Message</c> the
    /// payload carries (FATE's format), else none.</summary>
    public static string? Of(PushInbound push) =>
        Of(push.Metadata.TryGetValue("msgId", out var fromMetadata) ? fromMetadata : null, push.Payload.Span);

    /// <summary><paramref name="fromMetadata"/> when it is set, else the <c>msgId</c> of the <c>osx.Message</c> in
    /// <paramref name="payload"/>, else none.</summary>
    public static string? Of(string? fromMetadata, ReadOnlySpan<byte> payload) =>
        !string.IsNullOrEmpty(fromMetadata) ? fromMetadata : TryReadMessageId(payload);

    /// <summary>Reads field 1 (<c>msgId</c>) of a serialized <c>osx.Message</c> without parsing the rest.</summary>
    internal static string? TryReadMessageId(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 2 || payload[0] != 0x0A)
        {
            return null; // field 1 is written first when present
        }

        try
        {
            var input = new CodedInputStream(payload[..Math.Min(payload.Length, 1024)].ToArray());
            input.ReadTag();
            var id = input.ReadString();
            return id.Length is > 0 and <= 512 && id.All(c => !char.IsControl(c)) ? id : null;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }
}
