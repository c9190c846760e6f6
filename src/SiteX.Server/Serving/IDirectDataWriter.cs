namespace SiteX.Server.Serving;

/// <summary>
/// A response body that can take a payload straight into the caller's connection as a DATA frame, skipping the body
/// writer's buffer: SiteX's own HTTP/2 server (<see cref="H2ServerStream"/>) offers it on its
/// <see cref="Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature"/>, and the HTTP/2 relay uses it for the next
/// hop's DATA.
/// </summary>
internal interface IDirectDataWriter
{
    /// <summary>Writes <paramref name="payload"/> as one DATA frame if it can go now (the response started, nothing
    /// before it waits, the windows allow); false: write it through the body writer instead. Either way the caller
    /// flushes the body writer afterwards as usual.</summary>
    bool TryWriteData(ReadOnlySpan<byte> payload);
}
