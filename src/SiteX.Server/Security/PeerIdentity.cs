using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Security;

/// <summary>A peer party as proven by a credential, with what proved it (a certificate thumbprint, a token's key
/// id).</summary>
public sealed record PeerIdentity(string Party, PeerProof Proof, string Evidence);

/// <summary>What one <see cref="IPeerAuthenticator"/> made of a call: no credential of its kind
/// (<see cref="None"/>), a proven party, or a credential it refused (with the reason, safe to tell the caller).</summary>
public readonly record struct PeerAuthentication(PeerIdentity? Identity, string? Refusal)
{
    public static PeerAuthentication None => default;

    public static PeerAuthentication Proven(PeerIdentity identity) => new(identity, null);

    public static PeerAuthentication Refused(string reason) => new(null, reason);
}

/// <summary>
/// Proves which party a call on an inter-site port comes from: the client certificate
/// (<see cref="CertificatePeerAuthenticator"/>) and the signed request token (<see cref="TokenPeerAuthenticator"/>),
/// registered with <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IPeerAuthenticator, ...&gt;())</c>.
/// <see cref="InterSiteGuard"/> runs every one of them: a refused credential refuses the call, and credentials that
/// prove different parties refuse it too. None of them ever reads a party from a header the caller set itself.
/// </summary>
public interface IPeerAuthenticator
{
    ValueTask<PeerAuthentication> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken);
}

/// <summary>The peer proven during a connection's TLS handshake; a connection feature, so every call on the
/// connection sees it without re-reading the certificate.</summary>
internal sealed class CertificatePeerFeature(PeerIdentity identity)
{
    public PeerIdentity Identity { get; } = identity;
}

/// <summary>The client certificate of the connection (checked and mapped to a party in the handshake by
/// <see cref="TlsHandshakes"/>).</summary>
internal sealed class CertificatePeerAuthenticator : IPeerAuthenticator
{
    public ValueTask<PeerAuthentication> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.Features.Get<CertificatePeerFeature>()?.Identity is { } identity ? PeerAuthentication.Proven(identity) : PeerAuthentication.None);
}
