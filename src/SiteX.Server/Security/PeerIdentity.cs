using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Security;

/// <summary>A peer party as proven by a credential, with what proved it (a certificate thumbprint, a token's key
/// id).</summary>
public sealed record PeerIdentity(string Party, PeerProof Proof, string Evidence);

/// <summary>
/// Proves which party a call on an inter-site port comes from. The client-certificate authenticator is built in; a
/// signed-token verifier is meant to be a second implementation, registered with
/// <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IPeerAuthenticator, ...&gt;())</c>. Authenticators run in
/// registration order; the first that returns an identity sets <see cref="GatewayCall.PeerParty"/> and
/// <see cref="GatewayCall.PeerProof"/>. None of them ever reads a party from a header the caller set itself.
/// </summary>
public interface IPeerAuthenticator
{
    /// <summary>The proven peer of this call, or null when this authenticator has no credential to check.</summary>
    ValueTask<PeerIdentity?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken);
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
    public ValueTask<PeerIdentity?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.Features.Get<CertificatePeerFeature>()?.Identity);
}
