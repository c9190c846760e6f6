using System.Buffers;

namespace SiteX.Server.Serving;

/// <summary>
/// A request body whose DATA can go straight to a consumer instead of through the body pipe: SiteX's own HTTP/2
/// server offers it on the <see cref="System.IO.Pipelines.PipeReader"/> of a body nothing replaced, and the HTTP/2 relay
/// registers itself, so a forwarded request's bytes cross user space once (from the caller's read buffer into the next
/// hop's frame buffer).
/// </summary>
internal interface IDirectRequestBody
{
    /// <summary>From now on (until <c>null</c>), the connection's read loop offers each DATA payload to
    /// <paramref name="sink"/> first, whenever everything written to the body pipe before it has been consumed; what
    /// the sink does not take goes into the pipe as before.</summary>
    void SetSink(IRequestDataSink? sink);
}

/// <summary>The consumer of <see cref="IDirectRequestBody"/>: called on the caller's connection's read loop.</summary>
internal interface IRequestDataSink
{
    /// <summary>Sends as much of <paramref name="payload"/> as can go now without waiting, slicing off what went;
    /// with <paramref name="endStream"/>, the request ends with it (true when that end went too, so the sink's own
    /// reader must not send it again).</summary>
    bool TrySend(ref ReadOnlySequence<byte> payload, bool endStream);

    /// <summary>Writes what <see cref="TrySend"/> appended (at the end of the read loop's batch of frames).</summary>
    void Flush();
}
