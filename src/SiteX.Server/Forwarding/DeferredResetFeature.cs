using Microsoft.AspNetCore.Http.Features;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Holds back the HTTP/2 stream reset that YARP sends when a forwarded response fails after it has started (a
/// deadline passing mid-stream, a next hop dying mid-stream). A gRPC client reports a bare reset as
/// <c>INTERNAL</c> with transport text; <see cref="ErrorResponder"/> instead ends a gRPC call with its real status in
/// the trailers, and performs the held-back reset only when it cannot.
/// </summary>
internal sealed class DeferredResetFeature(IHttpResetFeature inner) : IHttpResetFeature
{
    private int? _errorCode;

    public void Reset(int errorCode) => _errorCode ??= errorCode;

    /// <summary>Sends the reset that was asked for, if any, with <paramref name="errorCode"/> when given.
    /// Returns whether one was.</summary>
    public bool TryResetNow(int? errorCode = null)
    {
        if (_errorCode is not { } code)
        {
            return false;
        }

        inner.Reset(errorCode ?? code);
        return true;
    }
}
