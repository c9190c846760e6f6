using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Security;

/// <summary>
/// The TLS handshake of the inter-site ports: presents the current certificate snapshot, asks for a client
/// certificate, and accepts one only if it chains to a CA of <see cref="TlsOptions.CaFile"/> (never the system roots),
/// is within its validity period, allows client authentication when it restricts its key usage, and names exactly one
/// party (<see cref="PeerIdentityResolver"/>). The party is set on the connection (<see cref="CertificatePeerFeature"/>)
/// for every call on it. A refused handshake is logged here with the reason; the client only sees the TLS failure.
/// </summary>
internal sealed class TlsHandshakes
{
    /// <summary>How long a client may take to complete the handshake.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly TlsMaterialManager _material;
    private readonly PeerIdentityResolver _identities;
    private readonly TlsOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<TlsHandshakes> _logger;

    public TlsHandshakes(TlsMaterialManager material, IOptions<SiteXOptions> options, GatewayMetrics metrics, ILogger<TlsHandshakes> logger)
    {
        _material = material;
        _options = options.Value.Tls;
        _identities = new PeerIdentityResolver(_options);
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Kestrel options for one TLS listener (<paramref name="listener"/> names it in logs).</summary>
    public TlsHandshakeCallbackOptions For(string listener) => new()
    {
        OnConnection = context => ValueTask.FromResult(Options(context.Connection, listener)),
        HandshakeTimeout = HandshakeTimeout,
    };

    private SslServerAuthenticationOptions Options(ConnectionContext connection, string listener)
    {
        var material = _material.Current; // one snapshot per handshake
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = material.CertificateContext,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) => ValidateClient(connection, listener, material, certificate, chain),
            // ApplicationProtocols left null: Kestrel offers h2 and/or http/1.1 as the listener's protocols say.
        };
    }

    private bool ValidateClient(ConnectionContext connection, string listener, TlsMaterial material, X509Certificate? certificate, X509Chain? presented)
    {
        var port = (connection.LocalEndPoint as System.Net.IPEndPoint)?.Port ?? 0;
        var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        if (certificate is null)
        {
            if (_options.ClientCertificate == ClientCertificateRequirement.Optional)
            {
                return true;
            }

            _metrics.ClientCertificateRejected("missing");
            TlsLog.ClientCertificateMissing(_logger, listener, port, remote);
            return false;
        }

        var peer = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var (party, reason, problem) = Check(peer, material, presented);
        if (party is null)
        {
            _metrics.ClientCertificateRejected(reason);
            TlsLog.ClientCertificateRejected(_logger, listener, port, remote, problem!, peer.Subject, peer.Issuer, peer.Thumbprint);
            return false;
        }

        connection.Features.Set(new CertificatePeerFeature(new PeerIdentity(party, PeerProof.Certificate, peer.Thumbprint)));
        TlsLog.PeerConnected(_logger, party, listener, port, remote, peer.Thumbprint);
        return true;
    }

    /// <summary>The party of a valid certificate, or the metric reason and a message of why it is refused.</summary>
    internal (string? Party, string Reason, string? Problem) Check(X509Certificate2 peer, TlsMaterial material, X509Chain? presented)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(material.TrustedAuthorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(s_clientAuth);
        if (presented is not null)
        {
            // The intermediates the client sent.
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        if (!chain.Build(peer))
        {
            var (reason, problem) = Describe(chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status), peer, material);
            return (null, reason, problem);
        }

        var party = _identities.Resolve(peer, out var identityProblem);
        return party is null ? (null, "no_party", identityProblem) : (party, "", null);
    }

    private static (string Reason, string Problem) Describe(X509ChainStatusFlags status, X509Certificate2 peer, TlsMaterial material)
    {
        if ((status & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            return ("untrusted", $"is not issued by a CA of Tls:CaFile {material.CaFile}");
        }

        if ((status & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            var now = DateTime.UtcNow;
            var validity = $"valid {peer.NotBefore.ToUniversalTime():u} to {peer.NotAfter.ToUniversalTime():u}";
            return ("expired", now > peer.NotAfter.ToUniversalTime() ? $"expired ({validity})"
                : now < peer.NotBefore.ToUniversalTime() ? $"is not valid yet ({validity})"
                : "has an expired CA in its chain");
        }

        if ((status & (X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.InvalidExtension)) != 0)
        {
            return ("usage", "may not be used for client authentication (its extended key usage lacks clientAuth)");
        }

        if ((status & X509ChainStatusFlags.NotSignatureValid) != 0)
        {
            return ("invalid", "has an invalid signature");
        }

        return ("invalid", $"is not valid ({status})");
    }
}
