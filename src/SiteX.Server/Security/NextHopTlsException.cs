using System.Security.Authentication;
using Grpc.Core;

namespace SiteX.Server.Security;

/// <summary>Why a TLS connection to a next hop failed.</summary>
public enum TlsFailureKind
{
    /// <summary>The handshake failed for another reason (see the message).</summary>
    Failed = 0,
    /// <summary>The next hop answered the TLS ClientHello with something that is not TLS (a plain-text port).</summary>
    NotTls = 1,
    /// <summary>The next hop closed the connection without answering the ClientHello.</summary>
    PeerClosed = 2,
    /// <summary>The next hop sent a TLS alert: it refused the handshake (our certificate, the protocol version).</summary>
    Refused = 3,
    /// <summary>The next hop's certificate does not chain to the route's CA (or the system's roots), or is expired.</summary>
    Untrusted = 4,
    /// <summary>The next hop's certificate does not carry the route's host (or <c>hostname</c>).</summary>
    HostMismatch = 5,
    /// <summary>The next hop's certificate does not name the route's pinned <c>peer_party</c>.</summary>
    PartyMismatch = 6,
}

/// <summary>
/// A failed TLS connection to a next hop. <see cref="Exception.Message"/> holds the details for the local log and
/// <c>sitex check</c> (addresses, certificate names, file paths); <see cref="SafeReason"/> is what a caller may be
/// told (no paths, no addresses).
/// </summary>
public sealed class NextHopTlsException : AuthenticationException
{
    public NextHopTlsException(TlsFailureKind kind, string message, string safeReason, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        SafeReason = safeReason;
    }

    public TlsFailureKind Kind { get; }

    /// <summary>A short reason without internal details, e.g. "its certificate does not name party 10000".</summary>
    public string SafeReason { get; }

    /// <summary>Every check of the peer's certificate, when the peer presented one.</summary>
    internal PeerCertificateReport? Report { get; init; }

    /// <summary>The TLS failure inside <paramref name="exception"/> (its inner exceptions, or a gRPC status's debug
    /// exception), or null when the failure was not about TLS.</summary>
    public static NextHopTlsException? Find(Exception? exception)
    {
        for (var e = exception; e is not null; e = e is RpcException rpc && rpc.Status.DebugException is { } debug && e.InnerException is null ? debug : e.InnerException)
        {
            if (e is NextHopTlsException tls)
            {
                return tls;
            }
        }

        return null;
    }
}
