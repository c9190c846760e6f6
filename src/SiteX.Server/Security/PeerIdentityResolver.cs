using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Configuration;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// Reads the party a peer's certificate names, from the field <see cref="TlsOptions.IdentitySource"/> selects:
/// <list type="bullet">
/// <item><c>uri-san</c>: the URI SAN that starts with <see cref="TlsOptions.PartyUriPrefix"/>
/// (<c>urn:sitex:party:9999</c>);</item>
/// <item><c>cn</c>: the subject common name;</item>
/// <item><c>dns-san</c>: the DNS SAN that ends with <see cref="TlsOptions.PartyDnsSuffix"/> (suffix removed), or the
/// only DNS SAN when no suffix is set.</item>
/// </list>
/// A certificate that names no party, or two different parties, names none: it is refused.
/// </summary>
internal sealed class PeerIdentityResolver
{
    private readonly string _source;
    private readonly string _uriPrefix;
    private readonly string _dnsSuffix;

    public PeerIdentityResolver(TlsOptions options)
    {
        _source = options.IdentitySource;
        _uriPrefix = options.PartyUriPrefix;
        _dnsSuffix = options.PartyDnsSuffix;
    }

    /// <summary>The party, or null with the reason (for the handshake's log line).</summary>
    public string? Resolve(X509Certificate2 certificate, out string? problem)
    {
        problem = null;
        var candidates = _source switch
        {
            PeerIdentitySources.CommonName => CommonName(certificate),
            PeerIdentitySources.DnsSan => DnsNames(certificate),
            _ => UriNames(certificate),
        };

        var distinct = candidates.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count == 0)
        {
            problem = _source switch
            {
                PeerIdentitySources.CommonName => "names no party: it has no subject common name",
                PeerIdentitySources.DnsSan => _dnsSuffix.Length > 0
                    ? $"names no party: no DNS SAN ends with \"{_dnsSuffix}\""
                    : "names no party: it has no DNS SAN",
                _ => $"names no party: no URI SAN starts with \"{_uriPrefix}\"",
            };
            return null;
        }

        if (distinct.Count > 1)
        {
            problem = $"names more than one party ({string.Join(", ", distinct.Select(p => RouteTableParser.Truncate(p)))}) in its {_source} field";
            return null;
        }

        var party = distinct[0];
        if (!RouteTableParser.IsValidId(party))
        {
            problem = $"names \"{RouteTableParser.Truncate(party)}\", which is not a valid party id (1-128 letters, digits, '.', '_' or '-')";
            return null;
        }

        return party;
    }

    private static IEnumerable<string> CommonName(X509Certificate2 certificate)
    {
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(name) ? [] : [name];
    }

    private IEnumerable<string> UriNames(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            foreach (var uri in SanUris.Enumerate(extension))
            {
                if (uri.StartsWith(_uriPrefix, StringComparison.OrdinalIgnoreCase) && uri.Length > _uriPrefix.Length)
                {
                    yield return uri[_uriPrefix.Length..];
                }
            }
        }
    }

    private IEnumerable<string> DnsNames(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames()).ToList();
        if (_dnsSuffix.Length == 0)
        {
            // Without a suffix only an unambiguous certificate names a party.
            return names;
        }

        return names.Where(n => n.Length > _dnsSuffix.Length && n.EndsWith(_dnsSuffix, StringComparison.OrdinalIgnoreCase))
            .Select(n => n[..^_dnsSuffix.Length]);
    }
}
