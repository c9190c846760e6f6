namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// A malformed or over-limit header block: an HTTP/2 COMPRESSION_ERROR (RFC 7540 section 4.3), after which the
/// connection must be closed, since the peer's dynamic table and ours no longer agree. The message names the problem
/// ("HPACK: index 90 is past the end of the table (61 static + 1 dynamic entries)") and never contains header names or
/// values, so it can be logged as it is.
/// </summary>
internal sealed class HpackException : Exception
{
    public HpackException(string message)
        : base(message)
    {
    }
}
