using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// What was checked about a next hop's certificate, step by step: its chain (to the route's CA, or the system's
/// roots), its names (the route's host or <c>hostname</c>), and the pinned party. Every check always runs, so
/// <c>sitex check</c> can show each one; a connection is accepted only when all pass.
/// </summary>
internal sealed class PeerCertificateReport
{
    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1");

    public required string Subject { get; init; }

    public required DateTime NotAfter { get; init; }

    public bool ChainValid { get; private init; }

    /// <summary>On success the chain ("CN=10000 &lt;- CN=SiteX CA"), else why it fails.</summary>
    public required string ChainText { get; init; }

    public required string ExpectedHost { get; init; }

    public bool HostValid { get; private init; }

    public required string HostText { get; init; }

    /// <summary>The pinned party, or null when the route pins none.</summary>
    public string? PinnedParty { get; private init; }

    public bool PartyValid { get; private init; }

    public string? PartyText { get; private init; }

    public bool Valid => ChainValid && HostValid && PartyValid;

    /// <summary>Checks <paramref name="certificate"/> (presented with <paramref name="presented"/>'s extra certificates)
    /// for a connection to <paramref name="host"/> under <paramref name="tls"/>.</summary>
    public static PeerCertificateReport Check(OutboundTls tls, string host, X509Certificate2 certificate, X509Chain? presented)
    {
        var (chainValid, chainText) = CheckChain(tls, certificate, presented);
        var expectedHost = tls.Hostname ?? host;
        var hostValid = MatchesHost(certificate, expectedHost);
        var hostText = hostValid
            ? $"the certificate carries {expectedHost}"
            : $"the certificate is for {CertificateNames.Describe(certificate)}, not {expectedHost}" +
              (tls.Hostname is null ? "; if it is issued for another name than the route's address, set \"hostname\" to that name" : " (the route's \"hostname\")");
        bool partyValid = true;
        string? partyText = null;
        if (tls.PeerParty is { } pinned)
        {
            var source = tls.PeerIdentity == PeerIdentitySource.CommonName ? "common name (CN)" : $"URI name {SiteCertificates.PartyUriPrefix}<id>";
            var parties = CertificateNames.Parties(certificate, tls.PeerIdentity);
            partyValid = parties.Contains(pinned, StringComparer.Ordinal);
            partyText = partyValid
                ? $"the certificate names party {pinned} (its {source})"
                : parties.Count == 0
                    ? $"the certificate names no party in its {source}, but the route pins party {pinned} (\"peer_party\")"
                    : $"the certificate names party {string.Join(", ", parties)} in its {source}, not {pinned} (the route's \"peer_party\")";
        }

        return new PeerCertificateReport
        {
            Subject = certificate.Subject,
            NotAfter = certificate.NotAfter,
            ChainValid = chainValid,
            ChainText = chainText,
            ExpectedHost = expectedHost,
            HostValid = hostValid,
            HostText = hostText,
            PinnedParty = tls.PeerParty,
            PartyValid = partyValid,
            PartyText = partyText,
        };
    }

    /// <summary>The first failed check as an exception for <paramref name="endpoint"/>.</summary>
    public NextHopTlsException ToException(string endpoint, Exception? inner = null)
    {
        if (!ChainValid)
        {
            return new NextHopTlsException(TlsFailureKind.Untrusted, $"TLS handshake with {endpoint} failed: the server certificate ({Subject}) is not trusted: {ChainText}",
                "its certificate is not trusted", inner) { Report = this };
        }

        if (!HostValid)
        {
            return new NextHopTlsException(TlsFailureKind.HostMismatch, $"TLS handshake with {endpoint} failed: certificate does not match host {ExpectedHost}: {HostText}",
                "its certificate does not match the host", inner) { Report = this };
        }

        return new NextHopTlsException(TlsFailureKind.PartyMismatch, $"TLS handshake with {endpoint} failed: {PartyText}",
            $"its certificate does not name party {PinnedParty}", inner) { Report = this };
    }

    private static bool MatchesHost(X509Certificate2 certificate, string host)
    {
        try
        {
            return certificate.MatchesHostname(host.Trim('[', ']'));
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return false;
        }
    }

    private static (bool Valid, string Text) CheckChain(OutboundTls tls, X509Certificate2 certificate, X509Chain? presented)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true; // a gateway fetches nothing from URLs in a peer's certificate
        policy.ApplicationPolicy.Add(s_serverAuth);
        if (tls.TrustAnchors is { } anchors)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(anchors);
            policy.ExtraStore.AddRange(anchors); // intermediates in caFile help build the chain to its root
        }

        if (presented is not null)
        {
            policy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        bool valid;
        try
        {
            valid = chain.Build(certificate);
        }
        catch (CryptographicException ex)
        {
            return (false, $"its chain cannot be built ({ex.Message})");
        }

        if (valid)
        {
            return (true, string.Join(" <- ", chain.ChainElements.Select(e => Short(e.Certificate.Subject))) + $" (trusted by {tls.TrustSource})");
        }

        var status = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        var now = DateTime.Now;
        string reason;
        if ((status & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            reason = $"it is issued by \"{certificate.Issuer}\", which is not a CA in {tls.TrustSource}";
        }
        else if ((status & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            reason = certificate.NotAfter < now ? $"it expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC"
                : certificate.NotBefore > now ? $"it is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (check both clocks)"
                : "a CA certificate in its chain is expired";
        }
        else if ((status & (X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.InvalidExtension)) != 0)
        {
            reason = "it is not for server authentication (its extended key usage lacks serverAuth)";
        }
        else if ((status & X509ChainStatusFlags.NotSignatureValid) != 0)
        {
            reason = "its signature does not verify";
        }
        else
        {
            reason = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        }

        return (false, reason);
    }

    /// <summary>"CN=10000" out of "CN=10000, O=SiteX site 10000".</summary>
    private static string Short(string subject)
    {
        var comma = subject.IndexOf(", ", StringComparison.Ordinal);
        return comma > 0 ? subject[..comma] : subject;
    }
}
