namespace SiteX.Server.Forwarding.H2;

/// <summary>Receives the header fields <see cref="HpackDecoder.Decode"/> decodes, in the order of the block.</summary>
internal interface IHpackHeaderHandler
{
    /// <summary>One decoded field. <paramref name="name"/> and <paramref name="value"/> point into the decoder's block,
    /// table or scratch buffer and are only valid during the call: copy what must outlive it.</summary>
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}
