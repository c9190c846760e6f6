namespace SiteX.Server.Security;

/// <summary>
/// Passes a connection's bytes through and remembers the first few bytes the peer sent and whether it closed, so a
/// failed handshake can say what the peer really answered: a TLS record, an alert, an HTTP/2 frame, "HTTP/1.1 400", or
/// nothing at all.
/// </summary>
internal sealed class HandshakeProbeStream(Stream inner) : SiteX.Server.Internal.DelegatingStream(inner)
{
    private const int Recorded = 16;
    private readonly byte[] _first = new byte[Recorded];
    private int _count;

    /// <summary>The first bytes the peer sent (up to 16).</summary>
    public ReadOnlySpan<byte> FirstBytes => _first.AsSpan(0, _count);

    /// <summary>Whether the peer closed its side before sending <see cref="Recorded"/> bytes.</summary>
    public bool SawEndOfStream { get; private set; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Record(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = Inner.Read(buffer);
        Record(buffer[..read]);
        return read;
    }

    private void Record(ReadOnlySpan<byte> read)
    {
        if (_count == Recorded)
        {
            return;
        }

        if (read.Length == 0)
        {
            SawEndOfStream = true;
            return;
        }

        var take = Math.Min(Recorded - _count, read.Length);
        read[..take].CopyTo(_first.AsSpan(_count));
        _count += take;
    }

    /// <summary>Names what a peer sent instead of a TLS record: an HTTP/1.x status line, an HTTP/2 frame, or hex.</summary>
    public static string DescribeNonTls(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("HTTP/"u8))
        {
            var text = System.Text.Encoding.ASCII.GetString(bytes);
            var end = text.IndexOfAny(['\r', '\n']);
            return $"plain-text HTTP/1.x (\"{(end > 0 ? text[..end] : text)}...\")";
        }

        // An HTTP/2 frame header: 24-bit length, type, flags, stream id; a server's first frame is SETTINGS (4) or GOAWAY (7).
        if (bytes.Length >= 9 && bytes[0] == 0 && bytes[3] is 0x04 or 0x07)
        {
            return $"a plain-text HTTP/2 {(bytes[3] == 0x04 ? "SETTINGS" : "GOAWAY")} frame (an h2c port)";
        }

        return $"bytes that are not TLS ({Convert.ToHexString(bytes)})";
    }

    /// <summary>The name of a TLS alert description (RFC 8446 6.2).</summary>
    public static string AlertName(byte description) => description switch
    {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => $"alert {description}",
    };
}
